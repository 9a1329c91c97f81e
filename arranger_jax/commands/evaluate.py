"""`arranger-jax evaluate`: gather baseline and model test scores into the paper's Table 2 layout."""
HELP = "print our test accuracies beside the paper's Table 2 (baselines.json + runs' test_results.json)"


def add_arguments(parser):
    parser.add_argument("--data", action="append", required=True,
                        help="prepared dataset folder(s) holding baselines.json (repeat the flag)")
    parser.add_argument("--runs", action="append", default=[],
                        help="folder(s) searched for test_results.json written by `arranger-jax train`")
    parser.add_argument("--json", help="also write the gathered scores here")


def run(args):
    import json
    from pathlib import Path

    from arranger_jax import data, paper_results
    from music_codecs.errors import UserError

    results, order = {}, []
    for folder in args.data:
        dataset = data.dataset_info(folder)["dataset"] if (Path(folder) / "dataset.json").exists() else None
        if dataset is None:
            raise UserError(f"{folder}: no dataset.json (run `arranger-jax prepare` first)")
        order.append(dataset)
        path = Path(folder) / "baselines.json"
        scores = json.loads(path.read_text()) if path.exists() else {}
        results.setdefault(dataset, {}).update({k: v["accuracy"] for k, v in scores.items()})
    notes = []
    for root in args.runs:
        for path in sorted(Path(root).rglob("test_results.json")):
            found = json.loads(path.read_text())
            if found.get("test") and found["dataset"] in results:
                results[found["dataset"]][found["table_key"]] = found["test"]["accuracy"]
                origin = f"converted from {found['source']}" if found.get("source") else "trained here"
                notes.append(f"{found['dataset']} {found['table_key']}: {found['model']}, {origin} ({path.parent})")
    print(paper_results.format_table(results, order))
    for line in notes:
        print(f"- {line}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))

"""`arranger-jax evaluate`: gather baseline and model test scores into the paper's Table 2 layout."""

HELP = "print our test accuracies beside the paper's Table 2 (baselines.json + runs' run.json test metrics)"


def add_arguments(parser):
    parser.add_argument(
        "--data",
        action="append",
        required=True,
        help="prepared dataset folder(s) holding baselines.json (repeat the flag)",
    )
    parser.add_argument(
        "--runs",
        action="append",
        default=[],
        help="folder(s) searched for Arranger run folders (run.json with test metrics, "
        "from `arranger-jax train` or `convert-reference --data`)",
    )
    parser.add_argument("--json", help="also write the gathered scores here")


def run(args):
    from train_kit import paths

    for folder in args.data:
        paths.input_dir(folder, "--data")
    for folder in args.runs:
        paths.input_dir(folder, "--runs")
    if args.json:
        paths.output_file(args.json, "--json", inputs=args.data)

    import json
    from pathlib import Path

    from arranger_jax import data, paper_results
    from arranger_jax.config import Config, table_key
    from music_codecs.errors import UserError
    from train_kit.config import from_dict
    from train_kit.run import RUN_FILE, RunError, read_run_info

    results, order = {}, []
    for folder in args.data:
        dataset = data.dataset_info(folder)["dataset"] if (Path(folder) / "dataset.json").exists() else None
        if dataset is None:
            raise UserError(f"{folder}: no dataset.json (run `arranger-jax prepare` first)")
        order.append(dataset)
        path = Path(folder) / "baselines.json"
        try:
            scores = json.loads(path.read_text()) if path.exists() else {}
        except ValueError as err:
            raise UserError(f"{path}: not readable JSON ({err}); rerun `arranger-jax baseline`") from None
        results.setdefault(dataset, {}).update({k: v["accuracy"] for k, v in scores.items()})
    notes = []
    for root in args.runs:
        for path in sorted(Path(root).rglob(RUN_FILE)):
            try:
                info = read_run_info(path.parent)
            except RunError as err:  # one broken folder should not hide the others
                notes.append(f"not read: {err}")
                continue
            if info["system"] != "arranger" or "test_accuracy" not in info.get("metrics", {}):
                continue
            cfg = from_dict(Config, info["config"])
            dataset, key = cfg.data.dataset, table_key(cfg.model)
            if dataset in results:
                results[dataset][key] = info["metrics"]["test_accuracy"]
                origin = f"converted from {info['source']}" if info.get("source") else "trained here"
                notes.append(f"{dataset} {key}: {cfg.model.name}, {origin} ({path.parent})")
        for path in sorted(Path(root).rglob("test_results.json")):  # written by earlier versions
            if not (path.parent / RUN_FILE).exists():
                try:
                    read_run_info(path.parent, "arranger")
                except RunError as err:
                    notes.append(f"not read: {err}")
    print(paper_results.format_table(results, order))
    for line in notes:
        print(f"- {line}")
    if args.json:
        from music_codecs.atomic import write_text_atomic

        write_text_atomic(args.json, json.dumps(results, indent=2))

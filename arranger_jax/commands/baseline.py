"""`arranger-jax baseline`: learn the rule-based baselines on the train split, score the test split."""

HELP = "run the baselines (most-common, zone, closest-pitch, MLP) on a prepared dataset's test split"

RULES = ("most_common", "zone", "zone_oracle", "closest", "closest_mono", "mlp", "mlp_oracle")


def add_arguments(parser):
    parser.add_argument("--data", required=True, help="dataset folder written by `arranger-jax prepare`")
    parser.add_argument(
        "--only",
        default=",".join(r for r in RULES if not r.startswith("mlp")),
        help=f"comma-separated subset of {','.join(RULES)}",
    )
    parser.add_argument("--json", help="where to write the scores (default: DATA/baselines.json)")
    parser.add_argument("--mlp-epochs", type=int, default=100, help="MLP: most epochs (patience 5)")
    parser.add_argument("--mlp-steps", type=int, default=500, help="MLP: steps per epoch")


def run(args):
    from train_kit import paths

    paths.input_dir(args.data, "--data")
    if args.json:
        paths.output_file(args.json, "--json", inputs=[args.data])
    paths.positive(args.mlp_epochs, "--mlp-epochs")
    paths.positive(args.mlp_steps, "--mlp-steps")

    import json
    from pathlib import Path

    import numpy as np
    from tqdm import tqdm

    from arranger_jax import baselines as B
    from arranger_jax import data, labels, paper_results
    from arranger_jax import features as F
    from arranger_jax import metrics as M
    from music_codecs.errors import UserError

    rules = [r.strip() for r in args.only.split(",") if r.strip()]
    unknown = set(rules) - set(RULES)
    if unknown:
        raise UserError(f"unknown baseline(s) {', '.join(sorted(unknown))}; choose from {', '.join(RULES)}")
    info = data.dataset_info(args.data)
    dataset = info["dataset"]
    k = labels.num_parts(dataset)
    splits = data.load_dataset(args.data)
    train, valid, test = splits["train"], splits["valid"], splits["test"]
    if not train or not test:
        raise UserError(f"{args.data}: the train and test splits must not be empty")
    samples_path = Path(args.data) / "samples.txt"
    sample_names = set(samples_path.read_text().split()) if samples_path.exists() else {p.name for p in test}
    results = {}

    def score(key, predictions, pieces=test):
        results[key] = M.evaluate(predictions, [p.label for p in pieces], k)
        print(f"{key:14s} accuracy {100 * results[key]['accuracy']:6.2f}  ({results[key]['notes']} notes)")

    if "most_common" in rules:
        part = B.learn_most_common([p.label for p in train], k)
        score("most_common", [B.predict_constant(len(p), part) for p in test])
    if "zone" in rules:
        hist = B.pitch_histograms([p.pitch for p in train], [p.label for p in train], k)
        bounds, order = B.learn_zones(hist, permutation=True)
        print(f"zones: boundaries {bounds}, parts from the top {order}")
        score("zone", [B.predict_zones(p.pitch, bounds, order) for p in test])
        results["zone"]["boundaries"], results["zone"]["order"] = list(bounds), list(order)
    if "zone_oracle" in rules:
        subset = [p for p in test if p.name in sample_names]
        preds = []
        for p in tqdm(subset, desc="zone oracle", leave=False):
            b, o = B.learn_zones(B.pitch_histograms([p.pitch], [p.label], k), permutation=True)
            preds.append(B.predict_zones(p.pitch, b, o))
        score("zone_oracle", preds, subset)
    for key, mono in (("closest", False), ("closest_mono", True)):
        if key in rules:
            preds = [
                B.closest_pitch(p.time, p.pitch, p.duration, F.first_indices(p.label, k), k, mono)
                for p in tqdm(test, desc=key, leave=False)
            ]
            score(key, preds)
    if "mlp" in rules or "mlp_oracle" in rules:
        from arranger_jax import mlp_baseline

        params = mlp_baseline.train(train, valid, k, epochs=args.mlp_epochs, steps_per_epoch=args.mlp_steps)
        if "mlp_oracle" in rules:
            score("mlp_oracle", [mlp_baseline.predict(params, p, k, oracle=True) for p in test])
        if "mlp" in rules:
            subset = [p for p in test if p.name in sample_names]
            score(
                "mlp",
                [mlp_baseline.predict(params, p, k) for p in tqdm(subset, desc="mlp", leave=False)],
                subset,
            )
    out = Path(args.json) if args.json else Path(args.data) / "baselines.json"
    try:
        previous = json.loads(out.read_text()) if out.exists() else {}
    except ValueError as err:
        raise UserError(f"{out}: not readable JSON ({err}); move it away or give --json") from None
    previous.update(results)
    from music_codecs.atomic import write_text_atomic

    write_text_atomic(out, json.dumps(previous, indent=2))
    print()
    print(paper_results.format_table({dataset: {k_: v["accuracy"] for k_, v in previous.items()}}, [dataset]))
    print(f"\nwrote {out}")
    return 0 if np.isfinite([v["accuracy"] for v in results.values()]).all() else 1

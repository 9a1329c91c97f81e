"""`musegan-jax evaluate`: EB, UPC, QN, DP and TD in the paper's Table 1 and 2 layout."""

HELP = (
    "compute EB/UPC/QN/DP/TD of a trained run's samples (--checkpoint) and/or of a phrase file "
    "(--data), printed beside the paper's Tables 1 and 2; --variant released gives the released "
    "code's chroma, QN threshold and DP tolerance"
)


def add_arguments(parser):
    parser.add_argument("--checkpoint", action="append", default=[], help="run folder (repeatable)")
    parser.add_argument("--data", action="append", default=[], help="phrase file (repeatable)")
    parser.add_argument(
        "--samples", type=int, default=1000, help="phrases sampled per run (the paper: 5,000 = 20,000 bars)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--variant", default="paper", choices=("paper", "released"))
    parser.add_argument("--no-paper", action="store_true", help="leave the paper's rows out")
    parser.add_argument("--json", help="also write the numbers to this JSON file")


def run(args):
    from train_kit import paths

    for path in args.checkpoint:
        paths.run_dir(path)
    for path in args.data:
        paths.input_file(path, "--data")
    if args.json:
        paths.output_file(args.json, "--json", inputs=args.checkpoint + args.data)
    paths.positive(args.samples, "--samples")

    import json
    from pathlib import Path

    import numpy as np

    from musegan_jax.data import load_phrases
    from musegan_jax.load import load
    from musegan_jax.metrics import evaluate
    from musegan_jax.paper_results import tables
    from music_codecs.errors import UserError

    if not args.checkpoint and not args.data:
        raise UserError("give --checkpoint RUN and/or --data PHRASES.npz")
    rows = {}
    for path in args.data:
        phrases, info = load_phrases(path)
        rows[f"data: {Path(path).name}"] = evaluate(phrases, info.get("beat_resolution"), args.variant).flat()
    for path in args.checkpoint:
        trained = load(path)
        cfg = trained.config
        condition = None
        if cfg.model.conditional:
            phrases, _ = load_phrases(cfg.data.file())
            pick = np.random.default_rng(args.seed).integers(0, len(phrases), args.samples)
            from musegan_jax.config import TRACKS

            condition = phrases[pick][..., TRACKS.index(cfg.model.condition_track)]
        rolls = trained.sampler().sample(args.samples, seed=args.seed, condition=condition)
        name = f"{cfg.model.kind}{' cond.' if cfg.model.conditional else ''} ({Path(path).name}, step {trained.info.get('step')})"
        rows[name] = evaluate(rolls, cfg.data.beat_resolution, args.variant).flat()
    print(f"metrics variant: {args.variant}\n")
    print(tables(rows, paper=not args.no_paper))
    if args.json:
        from music_codecs.atomic import write_text_atomic

        write_text_atomic(args.json, json.dumps(rows, indent=2) + "\n")

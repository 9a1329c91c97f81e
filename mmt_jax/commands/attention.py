"""`mmt-jax attention`: per-head mean relative attention (gain) over beat, position, pitch."""

HELP = "self-attention analysis: per-head relative attention gain for beat, position, pitch"


def add_arguments(parser):
    parser.add_argument(
        "--checkpoint",
        required=True,
        help="run folder from `mmt-jax train` (its --out) or `convert-reference`",
    )
    parser.add_argument("--data", required=True, help="prepared folder (with test-names.txt)")
    parser.add_argument("--num-pieces", type=int, default=100, help="first N test pieces")
    parser.add_argument("--layer", type=int, default=-1, help="layer analysed (default: last)")
    parser.add_argument(
        "--reference-variant",
        action="store_true",
        help="count pairs as the reference code does (diagonal in the attention, "
        "the full square in the baseline) instead of the paper's s > t",
    )
    parser.add_argument("--out", default="attention", help="folder for attention.json and PNGs")


def run(args):
    from train_kit import paths

    args.checkpoint = str(paths.run_dir(args.checkpoint, package="mmt_jax"))
    paths.input_dir(args.data, "--data")
    paths.output_dir(args.out, "--out", inputs=[args.checkpoint, args.data])

    import json
    from pathlib import Path

    from mmt_jax import attention
    from mmt_jax.evaluate import load_test_pieces
    from mmt_jax.load import load
    from music_codecs.errors import UserError

    if args.num_pieces < 1:
        raise UserError("--num-pieces must be positive")
    params, run_cfg = load(args.checkpoint)
    model_cfg = run_cfg.model
    if not -model_cfg.depth <= args.layer < model_cfg.depth:
        raise UserError(f"--layer {args.layer} out of range for {model_cfg.depth} layers")
    names, pieces, skipped = load_test_pieces(args.data, args.num_pieces)
    for name, reason in skipped:
        print(f"skipped {name}: {reason}")
    definition = "reference" if args.reference_variant else "paper"
    stats = attention.analyse(params, model_cfg, pieces, definition=definition, layer=args.layer)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    result = attention.to_json(stats, definition, args.layer)
    result.update(checkpoint=str(args.checkpoint), pieces=len(names), skipped=[name for name, _ in skipped])
    from music_codecs.atomic import write_text_atomic

    write_text_atomic(out / "attention.json", json.dumps(result) + "\n")
    pngs = attention.plot_gain(stats, out, f" ({definition}, layer {args.layer})")
    for name, st in stats.items():
        gain = st.gain()
        peak = gain.argmax(axis=1) - st.span
        print(f"{name}: most gained difference per head: {peak.tolist()}")
    print(f"wrote {out / 'attention.json'} and {len(pngs)} heat maps to {out}")

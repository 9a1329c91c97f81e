"""`mmt-jax evaluate`: the paper's Table 3 metrics for generated samples and the test set."""

HELP = "score unconditional samples and test pieces (Table 3): entropy, scale, groove, mean and 95-percent CI"


def add_arguments(parser):
    parser.add_argument(
        "--checkpoint",
        required=True,
        help="run folder from `mmt-jax train` (its --out) or `convert-reference`",
    )
    parser.add_argument("--data", required=True, help="prepared folder (with test-names.txt)")
    parser.add_argument(
        "--num-samples", type=int, default=100, help="generated samples, and test pieces at most"
    )
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--temperature", type=float, default=1.0)
    parser.add_argument(
        "--max-events", type=int, default=1024, help="events generated after start-of-song at most"
    )
    parser.add_argument(
        "--truth-rows",
        type=int,
        default=1024,
        help="test pieces are capped to this many event rows before decoding "
        "(the paper: 1024, its sequence length)",
    )
    parser.add_argument(
        "--sampling",
        default="default",
        choices=("default", "reference"),
        help="sampling preset (see `mmt-jax generate --help`); 'reference' = the paper's",
    )
    parser.add_argument("--strict", action="store_true", help="strict sampling constraints")
    parser.add_argument(
        "--max-beat-advance",
        type=int,
        help="bound on a note's beat jump (0: none; default with --sampling default or --strict: "
        "the data's largest, from its prepare-report.json)",
    )
    parser.add_argument(
        "--instruments",
        help="also measure instrument-informed samples for these (e.g. piano,violin,cello): "
        "the share of their notes on the requested instruments, with and without strict",
    )
    parser.add_argument("--out", default="evaluation", help="folder for evaluate.{json,md}")


def run(args):
    from train_kit import paths

    args.checkpoint = str(paths.run_dir(args.checkpoint, package="mmt_jax"))
    paths.input_dir(args.data, "--data")
    paths.output_dir(args.out, "--out", inputs=[args.checkpoint, args.data])
    for flag in ("num_samples", "batch_size", "temperature", "max_events"):
        paths.positive(getattr(args, flag), "--" + flag.replace("_", "-"))
    paths.at_least(args.truth_rows, 2, "--truth-rows")
    paths.at_least(args.max_beat_advance, 0, "--max-beat-advance")

    from mmt_jax.evaluate import evaluate, markdown, write
    from mmt_jax.load import load

    params, run_cfg = load(args.checkpoint)
    model_cfg = run_cfg.model
    result = evaluate(
        params,
        model_cfg,
        args.data,
        num_samples=args.num_samples,
        batch_size=args.batch_size,
        seed=args.seed,
        temperature=args.temperature,
        max_events=args.max_events,
        truth_rows=args.truth_rows,
        sampling=args.sampling,
        strict=args.strict,
        max_beat_advance=args.max_beat_advance,
        instruments=args.instruments,
    )
    result["settings"]["checkpoint"] = str(args.checkpoint)
    json_path, md_path = write(result, args.out)
    skipped = result["settings"]["skipped_test_pieces"]
    if skipped:
        print(f"skipped {len(skipped)} unreadable test pieces: " + "; ".join(skipped))
    print(markdown(result), end="")
    print(f"wrote {json_path} and {md_path}")

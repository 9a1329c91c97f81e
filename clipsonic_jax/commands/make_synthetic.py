"""`clipsonic-jax make-synthetic`: write synthetic audio-visual clips (the default dataset)."""

HELP = "write small synthetic videos (coloured shapes with matching tones) and labels.csv"


def add_arguments(parser):
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--clips", type=int, default=48, help="number of clips (default 48)")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--seed", type=int, default=0)


def run(args):
    from train_kit import paths

    paths.output_dir(args.out, "--out")
    paths.positive(args.clips, "--clips")
    paths.positive(args.seconds, "--seconds")

    from clipsonic_jax.synthetic import write_dataset

    rows = write_dataset(args.out, args.clips, seed=args.seed, seconds=args.seconds, progress=True)
    print(f"wrote {len(rows)} clips to {args.out} (labels.csv beside them)")

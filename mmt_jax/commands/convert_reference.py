"""`mmt-jax convert-reference`: the authors' released PyTorch checkpoint -> an MMT run folder."""

HELP = "convert a reference MMT checkpoint (best_model.pt or an .npz state dict) to a run folder"


def add_arguments(parser):
    parser.add_argument(
        "--checkpoint", required=True, help="best_model.pt (needs torch) or .npz of the state dict"
    )
    parser.add_argument(
        "--out", required=True, help="run folder to write (run.json + params/), e.g. runs/mmt/sod-authors"
    )
    parser.add_argument(
        "--train-args",
        help="the reference's train-args.json (default: ../train-args.json beside checkpoints/, if any)",
    )
    parser.add_argument("--heads", type=int, help="attention heads (default: dims / 64)")
    parser.add_argument(
        "--pos-emb",
        choices=("absolute", "rotary", "none"),
        help="positional encoding (default: read from the state dict)",
    )


def run(args):
    from train_kit import paths

    paths.input_file(args.checkpoint, "--checkpoint", suffixes=(".pt", ".pth", ".npz"))
    if args.train_args:
        paths.input_file(args.train_args, "--train-args")
    paths.output_dir(args.out, "--out")
    paths.positive(args.heads, "--heads")

    from mmt_jax.convert import convert_file

    out, config, n = convert_file(
        args.checkpoint, args.out, train_args=args.train_args, heads=args.heads, pos_emb=args.pos_emb
    )
    print(
        f"{args.checkpoint}: {n:,} parameters, {config.depth} layers, dim {config.dim}, "
        f"{config.heads} heads, pos_emb {config.pos_emb}, vocab {list(config.vocab_sizes)}"
    )
    print(f"wrote {out} (run.json + params/)")

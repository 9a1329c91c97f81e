"""`clipsonic-jax make-tiny-clip`: a tiny random CLIP folder (HF layout) for offline demos and tests."""

HELP = "write a tiny random CLIP (config.json, model.safetensors, tokenizer) for offline demos"


def add_arguments(parser):
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--seed", type=int, default=0)


def run(args):
    from train_kit import paths

    paths.output_dir(args.out, "--out")

    from model_kit.clip_load import DEMO_CLIP, write_tiny_clip

    cfg = write_tiny_clip(args.out, seed=args.seed, **DEMO_CLIP)
    print(
        f"tiny random CLIP ({cfg.projection_dim}-d embeddings) in {args.out}; it knows nothing, "
        "use a real checkpoint (e.g. openai/clip-vit-large-patch14) for real queries"
    )

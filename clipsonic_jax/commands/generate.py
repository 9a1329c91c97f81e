"""`clipsonic-jax generate`: audio from an image (CLIPSonic-IQ), a text (CLIPSonic-ZS) or a text
through a diffusion prior (CLIPSonic-PD, --prior)."""

HELP = (
    "generate a WAV and a mel PNG from an image (--image) or a text query (--text); with --prior, "
    "the text goes through the diffusion prior into the image-embedding space first (CLIPSonic-PD)"
)


def add_arguments(parser):
    parser.add_argument("--checkpoint", required=True, help="a trained run folder (run.json + params/)")
    q = parser.add_mutually_exclusive_group(required=True)
    q.add_argument("--image", nargs="+", help="image or video file(s) (a video's centre frame): CLIPSonic-IQ")
    q.add_argument(
        "--text", nargs="+", help="text quer(y/ies): CLIPSonic-ZS (CLIP text embedding), or PD with --prior"
    )
    parser.add_argument(
        "--prior", help="a prior run folder (clipsonic-jax train-prior / import-prior): CLIPSonic-PD"
    )
    parser.add_argument("--prior-guidance", type=float, help="prior guidance scale (default: its config)")
    parser.add_argument("--prior-steps", type=int, help="prior DDIM steps (default: its config)")
    parser.add_argument("--clip", help="CLIP folder (default: the one the model was trained with)")
    parser.add_argument("--out", default="clipsonic-out", help="output folder (default clipsonic-out)")
    parser.add_argument("--steps", type=int, help="sampling steps (default: the run's config)")
    parser.add_argument("--guidance", type=float, help="audio model classifier-free guidance scale")
    parser.add_argument("--sampler", choices=("ddim", "ddpm"))
    parser.add_argument("--seed", type=int, default=0)


def run(args):
    import os
    import re

    from clipsonic_jax.generate import read_image, write_outputs
    from clipsonic_jax.load import load
    from music_codecs.errors import UserError

    model = load(args.checkpoint)
    clip = model.clip(args.clip)
    if args.prior and not args.text:
        raise UserError("--prior maps text queries; give --text")
    if args.image:
        emb = clip.embed_images([read_image(p) for p in args.image])
        names = [os.path.splitext(os.path.basename(p))[0] for p in args.image]
    elif args.prior:
        from clipsonic_jax.prior_load import load as load_prior

        prior = load_prior(args.prior)
        prior.clip(clip.directory)  # checks the widths match
        emb = prior.text_to_image(clip, args.text, args.seed, args.prior_guidance, args.prior_steps)
        names = [re.sub(r"[^A-Za-z0-9]+", "_", t).strip("_")[:40] or "query" for t in args.text]
    else:
        emb = clip.embed_texts(args.text)
        names = [re.sub(r"[^A-Za-z0-9]+", "_", t).strip("_")[:40] or "query" for t in args.text]
    mels = model.generate(emb, seed=args.seed, steps=args.steps, guidance=args.guidance, sampler=args.sampler)
    for name, query, mel in zip(names, args.image or args.text, mels):
        wav, png = write_outputs(os.path.join(args.out, name), mel, model, title=str(query))
        print(f"{query}: {wav} {png}")

"""`clipsonic-jax generate`: audio from an image (CLIPSonic-IQ), a text (CLIPSonic-ZS) or a text
through a diffusion prior (CLIPSonic-PD, --prior)."""

HELP = (
    "generate a WAV and a mel PNG from an image (--image) or a text query (--text); with --prior, "
    "the text goes through the diffusion prior into the image-embedding space first (CLIPSonic-PD)"
)


def add_arguments(parser):
    parser.add_argument(
        "--checkpoint",
        required=True,
        help="a trained run folder (run.json + params/), or a shipped model's name (synthetic-tiny)",
    )
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
    parser.add_argument(
        "--vocoder",
        default="griffin-lim",
        help="mel -> audio: griffin-lim (default), a `train-vocoder` run folder, or a released "
        "HiFi-GAN/BigVGAN folder (config.json + g_* or bigvgan_generator.pt) with the model's mel settings",
    )


def _slug(text):
    import re

    return re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_")[:40] or "query"


def run(args):
    import os

    from train_kit import paths

    args.checkpoint = str(paths.run_dir(args.checkpoint, package="clipsonic_jax"))
    for flag in ("prior", "clip"):
        if getattr(args, flag):
            paths.input_dir(getattr(args, flag), f"--{flag}")
    for image in args.image or ():
        paths.input_file(image, "--image")
    paths.output_dir(args.out, "--out", inputs=[args.checkpoint, args.prior, args.clip])
    paths.positive(args.steps, "--steps")
    paths.positive(args.prior_steps, "--prior-steps")
    paths.at_least(args.guidance, 0, "--guidance")
    paths.at_least(args.prior_guidance, 0, "--prior-guidance")
    if args.image:
        names = [os.path.splitext(os.path.basename(p))[0] for p in args.image]
    else:
        names = [_slug(t) for t in args.text]
    queries = args.image or args.text
    outputs = [
        (os.path.join(args.out, name + suffix), query)
        for name, query in zip(names, queries)
        for suffix in (".wav", ".png")
    ]
    paths.distinct_outputs(outputs, inputs=args.image or ())

    from clipsonic_jax.generate import read_image, write_outputs
    from clipsonic_jax.load import load
    from music_codecs.errors import UserError

    model = load(args.checkpoint)
    clip = model.clip(args.clip)
    if args.prior and not args.text:
        raise UserError("--prior maps text queries; give --text")
    if args.image:
        emb = clip.embed_images([read_image(p) for p in args.image])
    elif args.prior:
        from clipsonic_jax.prior_load import load as load_prior

        prior = load_prior(args.prior)
        prior.clip(clip.directory)  # checks the widths match
        emb = prior.text_to_image(clip, args.text, args.seed, args.prior_guidance, args.prior_steps)
    else:
        emb = clip.embed_texts(args.text)
    from clipsonic_jax.vocoder_use import load_vocoder

    vocoder = load_vocoder(args.vocoder, model.cfg.mel, model.cfg.sample.griffin_lim_iters)
    mels = model.generate(emb, seed=args.seed, steps=args.steps, guidance=args.guidance, sampler=args.sampler)
    print(f"vocoder: {vocoder.name}")
    for name, query, mel in zip(names, args.image or args.text, mels):
        wav, png = write_outputs(os.path.join(args.out, name), mel, model, title=str(query), vocoder=vocoder)
        print(f"{query}: {wav} {png}")
    print(f"page: {_page(args.out)}")


def _page(out):
    """out/index.html: every (WAV, mel PNG) pair in the folder, this run's and earlier ones."""
    from pathlib import Path

    from music_codecs.html_page import Item, Section, write_page

    pairs = sorted(p for p in Path(out).glob("*.wav") if p.with_suffix(".png").is_file())
    items = [
        Item(p.stem, f"{p.stem}.png", p.name, {"WAV": p.name, "mel PNG": f"{p.stem}.png"}) for p in pairs
    ]
    text = "Mel spectrograms (Griffin-Lim audio) of the queries generated into this folder."
    return write_page(Path(out) / "index.html", "CLIPSonic samples", [Section("Samples", items, text)])

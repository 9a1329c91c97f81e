"""`clipsonic-jax modality-gap`: the paper's Table 2 on our data: mean CLIP cosine of text
queries to the image embeddings of matching clips (ZS) and, with --prior, of the prior's image
embeddings for those queries (PD)."""

HELP = (
    "modality gap (paper Table 2): sim(text, image) for ZS and, with --prior, sim(prior(text), "
    "image) for PD, over matching clips (mismatched pairs as the reference level)"
)


def add_arguments(parser):
    parser.add_argument("--clip", help="Hugging Face CLIP folder (default: the prior's)")
    parser.add_argument("--prior", help="a prior run folder: adds the PD row")
    parser.add_argument("--data", required=True, help="video folder with labels.csv (file,label)")
    parser.add_argument(
        "--template",
        default="a {label} shape",
        help="text query per label (default 'a {label} shape'; e.g. 'the sound of {label}')",
    )
    parser.add_argument(
        "--held-out",
        type=int,
        help="only clips i with i %% N == N-1 (the held-out split of train --data; default: the "
        "prior's data.eval_every_nth, else every clip)",
    )
    parser.add_argument("--prior-guidance", type=float, help="prior guidance scale (default: its config)")
    parser.add_argument("--prior-steps", type=int, help="prior DDIM steps (default: its config)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cache", help="cache folder (default <data>/.clipsonic-cache)")


def run(args):
    from train_kit import paths

    paths.input_dir(args.data, "--data")
    for flag in ("prior", "clip"):
        if getattr(args, flag):
            paths.input_dir(getattr(args, flag), f"--{flag}")
    if args.cache:
        paths.output_dir(args.cache, "--cache", inputs=[args.data])
    paths.at_least(args.held_out, 0, "--held-out")
    paths.positive(args.prior_steps, "--prior-steps")

    import json
    import os

    import numpy as np

    from clipsonic_jax import data
    from clipsonic_jax.modality_gap import image_gap, modality_gap, paired_gap
    from model_kit.clip_load import load_clip
    from music_codecs.errors import UserError
    from music_codecs.mel import MelConfig

    prior = None
    if args.prior:
        from clipsonic_jax.prior_load import load as load_prior

        prior = load_prior(args.prior)
    if not (args.clip or prior):
        raise UserError("give --clip (and/or --prior, whose CLIP is then used)")
    clip = prior.clip(args.clip) if prior else load_clip(args.clip)
    cache_dir = args.cache or os.path.join(args.data, ".clipsonic-cache")
    mel = MelConfig()
    if os.path.exists(os.path.join(cache_dir, "meta.json")):  # reuse the cache whatever its mel settings
        with open(os.path.join(cache_dir, "meta.json")) as f:
            mel = MelConfig(**json.load(f).get("mel", {}))
    cache = data.prepare(args.data, cache_dir, clip, mel)
    nth = args.held_out if args.held_out is not None else (prior.cfg.data.eval_every_nth if prior else 0)
    idx = data.split(len(cache.names), nth)[1] if nth else np.arange(len(cache.names))
    keep = [int(k) for k in idx if cache.labels[k]]
    if not keep:
        raise UserError(f"{args.data}: no labelled clips (labels.csv) in the selection")
    labels = sorted({cache.labels[k] for k in keep})
    text = clip.embed_texts([args.template.format(label=lab) for lab in labels])
    images = cache.embeddings[keep]
    zs = modality_gap(text, images, [labels.index(cache.labels[k]) for k in keep])
    which = f"{len(keep)} {'held-out ' if nth else ''}clips, {len(labels)} queries"
    print(f"modality gap ({which}); mean CLIP cosine, matched (mismatched pairs)")
    print(f"  ZS  sim(q_text, q_img)         {zs['matched']:.3f} ({zs['mismatched']:.3f})")
    if prior:
        texts = [args.template.format(label=cache.labels[k]) for k in keep]
        emb = prior.text_to_image(clip, texts, args.seed, args.prior_guidance, args.prior_steps)
        pd = paired_gap(emb, images, [cache.labels[k] for k in keep])
        print(f"  PD  sim(prior(q_text), q_img)  {pd['matched']:.3f} ({pd['mismatched']:.3f})")
    iq = image_gap(images, [cache.labels[k] for k in keep])
    print(
        f"  IQ  sim(other clip's q_img, q_img) {iq['matched']:.3f} ({iq['mismatched']:.3f})  (reference level)"
    )
    print("  paper (Table 2): ZS 0.205 VGGSound / 0.245 MUSIC; PD 0.647 / 0.720")

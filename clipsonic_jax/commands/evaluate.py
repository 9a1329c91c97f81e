"""`clipsonic-jax evaluate`: pitch accuracy of generated audio on held-out synthetic clips, for
image queries (IQ), text queries through CLIP (ZS) and, with --prior, through the prior (PD)."""

HELP = (
    "on the synthetic set: does generated audio have the pitch of the clip's colour? IQ (image), "
    "ZS (CLIP text) and, with --prior, PD (text through the prior), side by side with chance"
)


def add_arguments(parser):
    parser.add_argument(
        "--checkpoint",
        required=True,
        help="a trained run folder (run.json + params/), or a shipped model's name (synthetic-tiny)",
    )
    parser.add_argument("--prior", help="a prior run folder (clipsonic-jax train-prior): adds CLIPSonic-PD")
    parser.add_argument(
        "--data",
        help="a folder of unseen synthetic clips: all of them are evaluated "
        "(default: the held-out clips of the run's data.path)",
    )
    parser.add_argument(
        "--template", default="a {label} shape", help="text query per label (default 'a {label} shape')"
    )
    parser.add_argument(
        "--queries", default="iq,zs,pd", help="which of iq,zs,pd to run (default all; pd needs --prior)"
    )
    parser.add_argument("--steps", type=int, help="audio sampling steps (default: the run's config)")
    parser.add_argument("--guidance", type=float, help="audio model guidance scale")
    parser.add_argument("--prior-guidance", type=float, help="prior guidance scale (default: its config)")
    parser.add_argument("--prior-steps", type=int, help="prior DDIM steps (default: its config)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", help="also write the numbers to this JSON file")
    parser.add_argument(
        "--vggish",
        help="VGGish weights for FAD (torchvggish's vggish-10086976.pth, or .safetensors/.npz with its "
        "keys); without it FAD uses a named stand-in embedding (random projections of log-mels)",
    )
    parser.add_argument(
        "--vocoder",
        default="griffin-lim",
        help="mel -> audio for FAD: griffin-lim (default) or a vocoder folder",
    )
    parser.add_argument(
        "--clap",
        help="LAION-CLAP checkpoint for the CLAP score (laion-clap's non-fusion .pt, e.g. "
        "630k-audioset-best.pt, or .safetensors/.npz with its keys); needs --clap-tokenizer",
    )
    parser.add_argument(
        "--clap-tokenizer",
        help="folder with RoBERTa's vocab.json and merges.txt (roberta-base's), for --clap",
    )
    parser.add_argument("--no-fad", action="store_true", help="pitch accuracy only (no FAD, no CLAP score)")


def run(args):
    from train_kit import paths

    args.checkpoint = str(paths.run_dir(args.checkpoint, package="clipsonic_jax"))
    for flag in ("prior", "data"):
        if getattr(args, flag):
            paths.input_dir(getattr(args, flag), f"--{flag}")
    if args.json:
        paths.output_file(args.json, "--json", inputs=[args.checkpoint, args.data])
    paths.positive(args.steps, "--steps")
    paths.positive(args.prior_steps, "--prior-steps")
    paths.at_least(args.guidance, 0, "--guidance")
    paths.at_least(args.prior_guidance, 0, "--prior-guidance")
    from clipsonic_jax.commands.evaluate_fad import check_clap_args, load_clap_arg

    check_clap_args(args)

    import json
    import os

    import numpy as np

    from clipsonic_jax import data
    from clipsonic_jax.load import load
    from clipsonic_jax.pitch_eval import pitch_accuracy
    from music_codecs.atomic import atomic_file
    from music_codecs.errors import UserError

    kinds = [k.strip().lower() for k in args.queries.split(",") if k.strip()]
    if not kinds or set(kinds) - {"iq", "zs", "pd"}:
        raise UserError(f"--queries {args.queries!r}: give some of iq,zs,pd")
    if "pd" in kinds and not args.prior:
        kinds.remove("pd")
    clap = load_clap_arg(args)
    model = load(args.checkpoint)
    clip = model.clip()
    d = model.cfg.data
    data_dir = args.data or d.path
    cache = data.prepare(
        data_dir, d.cache_dir or os.path.join(data_dir, ".clipsonic-cache"), clip, model.cfg.mel
    )
    train_idx, eval_idx = data.split(len(cache.names), d.eval_every_nth)
    if args.data:  # an unseen folder: evaluate every clip; class bands from its real audio
        train_idx = eval_idx = np.arange(len(cache.names))
    if not len(eval_idx):
        raise UserError("no held-out clips (data.eval_every_nth is 0)")
    labels = [cache.labels[i] for i in eval_idx]
    if not all(labels):
        raise UserError(f"{data_dir}: pitch accuracy needs labelled (synthetic) clips (labels.csv)")
    texts = [args.template.format(label=lab) for lab in labels]
    queries = {}
    if "iq" in kinds:
        queries["iq"] = None
    if "zs" in kinds:
        queries["zs"] = clip.embed_texts(texts)
    if "pd" in kinds:
        from clipsonic_jax.prior_load import load as load_prior

        prior = load_prior(args.prior)
        queries["pd"] = prior.text_to_image(
            prior.clip(model.clip_dir), texts, args.seed, args.prior_guidance, args.prior_steps
        )
    names = {
        "iq": "CLIPSonic-IQ (image query)",
        "zs": "CLIPSonic-ZS (CLIP text)",
        "pd": "CLIPSonic-PD (text via prior)",
    }
    results = {}
    for kind, q in queries.items():
        r = pitch_accuracy(
            model, cache, eval_idx, train_idx, args.seed, args.steps, args.guidance, queries=q, keep_mels=True
        )
        results[kind] = r
    first = next(iter(results.values()))
    print(
        f"pitch accuracy on {first['n']} {'unseen' if args.data else 'held-out'} clips (real audio {first['real_audio_accuracy']:.3f}):"
    )
    for kind, r in results.items():
        print(f"  {names[kind]:<32} {r['accuracy']:.3f}")
    print(f"  {'chance':<32} {first['chance']:.3f}")
    if {"iq", "zs", "pd"} <= set(results) and results["iq"]["accuracy"] != results["zs"]["accuracy"]:
        iq, zs, pd = (results[k]["accuracy"] for k in ("iq", "zs", "pd"))
        print(f"PD closes {(pd - zs) / (iq - zs):.0%} of the ZS -> IQ distance")
    out = {k: {kk: v for kk, v in r.items() if kk not in ("class_bands", "mels")} for k, r in results.items()}
    if not args.no_fad:
        from clipsonic_jax.commands.evaluate_fad import report_fad

        out |= report_fad(args, model, cache, data_dir, eval_idx, train_idx, results, clap)
    if args.json:
        with atomic_file(args.json) as f:
            f.write(json.dumps(out, indent=1).encode())

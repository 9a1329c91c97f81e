"""The audio-quality part of `clipsonic-jax evaluate`: FAD, and the CLAP score where LAION-CLAP
weights are given (not a subcommand: cli.COMMANDS does not list it)."""

from __future__ import annotations

NAMES = {"iq": "CLIPSonic-IQ", "zs": "CLIPSonic-ZS", "pd": "CLIPSonic-PD"}
CLAP_LINE = (
    "CLAP score: not computed; pass --clap CKPT (a LAION-CLAP non-fusion checkpoint in the laion-clap "
    "layout, e.g. 630k-audioset-best.pt) and --clap-tokenizer DIR (roberta-base's vocab.json + merges.txt)"
)


def check_clap_args(args):
    """Before any generation: the CLAP flags come as a pair, with files that exist."""
    from music_codecs.errors import UserError
    from train_kit import paths

    if not (args.clap or args.clap_tokenizer):
        return
    if args.no_fad:
        raise UserError("--no-fad skips all audio-quality metrics; drop it to get the CLAP score")
    paths.input_file(args.clap, "--clap")
    paths.input_dir(args.clap_tokenizer, "--clap-tokenizer")


def load_clap_arg(args):
    """The CLAP model of --clap/--clap-tokenizer, or None (loaded early: a bad file fails fast)."""
    if not args.clap or args.no_fad:
        return None
    from model_kit.clap_load import load_clap

    return load_clap(args.clap, args.clap_tokenizer)


def _floor_set(args, model, cache, data_dir, eval_idx, train_idx):
    """Real clips other than the reference, as many as it has: FAD(real, real) at that size."""
    import os

    import numpy as np

    from clipsonic_jax import data

    if not args.data:
        return data_dir, cache, np.asarray(train_idx)[: len(eval_idx)]
    d = model.cfg.data
    if not os.path.isdir(d.path):
        return None
    own = data.prepare(
        d.path, d.cache_dir or os.path.join(d.path, ".clipsonic-cache"), model.clip(), model.cfg.mel
    )
    return d.path, own, np.arange(len(own.names))[: len(eval_idx)]


def report_fad(args, model, cache, data_dir, eval_idx, train_idx, results, clap=None):
    """Prints FAD (and the CLAP score with `clap`); returns {"fad": ..., "clap": ...}."""
    import os

    from clipsonic_jax.audio_quality import fad_report
    from clipsonic_jax.vocoder_use import load_vocoder
    from model_kit.embedders import get_embedder

    embedder = get_embedder(args.vggish)
    if not args.vggish:
        print(
            "FAD: no VGGish weights given (--vggish FILE, e.g. torchvggish's vggish-10086976.pth), so the "
            "stand-in embedding is used: its FADs compare only with other stand-in FADs"
        )
    vocoder = load_vocoder(args.vocoder, model.cfg.mel, model.cfg.sample.griffin_lim_iters)
    d = model.cfg.data
    cache_dir = d.cache_dir if (d.cache_dir and not args.data) else os.path.join(data_dir, ".clipsonic-cache")
    floor = _floor_set(args, model, cache, data_dir, eval_idx, train_idx)
    waves = {}
    rep = fad_report(
        {k: r["mels"] for k, r in results.items()},
        (data_dir, cache, eval_idx),
        floor,
        embedder,
        vocoder,
        model.cfg.mel,
        cache_dir,
        waves=waves,
    )
    print(
        f"FAD against {len(eval_idx)} real clips ({rep['reference_embeddings']} embeddings), lower is better"
    )
    print(f"  embedding: {rep['embedding']}")
    print(f"  vocoder:   {rep['vocoder']}")
    for k, v in rep["fad"].items():
        label = (
            NAMES.get(k)
            or {"real_mels_through_vocoder": "real mels, vocoded", "real_vs_real": "real vs real (floor)"}[k]
        )
        print(f"  {label:<32} {v:.4g}")
    if clap is None:
        print(CLAP_LINE)
        return {"fad": rep}
    return {"fad": rep, "clap": report_clap(args, model, cache, data_dir, eval_idx, waves, clap)}


def report_clap(args, model, cache, data_dir, eval_idx, waves, clap):
    from clipsonic_jax.audio_quality import clap_report, clip_wave

    texts = [args.template.format(label=cache.labels[i]) for i in eval_idx]
    real = [clip_wave(data_dir, cache, i, model.cfg.mel) for i in eval_idx]
    rep = clap_report(clap, waves, real, texts, model.cfg.mel.sample_rate)
    print(
        f"CLAP score of {rep['n']} clips against their class prompt ({args.template!r}), cosine, higher is better"
    )
    print(f"  model:     {rep['model']}")
    for k, v in rep["clap"].items():
        print(f"  {NAMES.get(k, 'real clips (reference)'):<32} {v:.4f}")
    return rep

"""The FAD part of `clipsonic-jax evaluate` (not a subcommand: cli.COMMANDS does not list it)."""

from __future__ import annotations

NAMES = {"iq": "CLIPSonic-IQ", "zs": "CLIPSonic-ZS", "pd": "CLIPSonic-PD"}
CLAP_LINE = (
    "CLAP score: not computed (needs LAION-CLAP weights in the laion-clap layout and a port of its "
    "audio branch, which this version does not have)"
)


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


def report_fad(args, model, cache, data_dir, eval_idx, train_idx, results):
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
    rep = fad_report(
        {k: r["mels"] for k, r in results.items()},
        (data_dir, cache, eval_idx),
        floor,
        embedder,
        vocoder,
        model.cfg.mel,
        cache_dir,
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
    print(CLAP_LINE)
    return rep

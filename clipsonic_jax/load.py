"""Read a trained CLIPSonic run folder (run.json + params/, train_kit.run's format) for inference.

    model = load("runs/clipsonic/tiny")     # generate.Model: config, mel stats, params, CLIP folder
    abstract_params(cfg)                    # the U-Net's parameter shapes for a config

No training module is imported. Anything that is not a loadable CLIPSonic run (no folder, another
system's run, the old clipsonic.json format, missing or mis-shaped parameters) is one-line RunError.
"""

from __future__ import annotations

import numpy as np

from clipsonic_jax.config import Config
from clipsonic_jax.generate import Model
from music_codecs.mel import MelStats
from train_kit.config import from_dict
from train_kit.run import RunError, check_params, load_run

SYSTEM = "clipsonic"
EXTRAS = ("mel_stats", "cond_mean", "cond_scale", "clip_dir")


def abstract_params(cfg: Config):
    """ShapeDtypeStructs of the (unboxed) U-Net parameters for cfg's mel shape and cond_dim."""
    import jax

    from clipsonic_jax.unet import UNet, init_params
    from train_kit.sharding import unbox

    shape = (cfg.mel.n_mels, cfg.mel.clip_frames)
    return unbox(jax.eval_shape(lambda k: init_params(UNet(cfg.unet), k, shape), jax.random.key(0)))


def shipped_clip(path):
    """`<path>/clip` when the run folder carries its CLIP (the shipped models do), else None."""
    from pathlib import Path

    clip = Path(path) / "clip"
    return str(clip) if (clip / "config.json").is_file() else None


def load(path) -> Model:
    run = load_run(path, system=SYSTEM)
    missing = [k for k in EXTRAS if k not in run.info]
    if missing:
        raise RunError(f"{path}: run.json lacks {', '.join(missing)}; export the run again")
    cfg = from_dict(Config, run.config)
    params = check_params(run.params, abstract_params(cfg), str(path))
    mean = run.info["cond_mean"]
    try:
        stats = MelStats(float(run.info["mel_stats"]["low"]), float(run.info["mel_stats"]["high"]))
    except (KeyError, TypeError, ValueError) as err:
        raise RunError(f"{path}: bad mel_stats in run.json ({err!r})") from err
    return Model(
        cfg,
        stats,
        params,
        shipped_clip(path) or run.info["clip_dir"],
        None if mean is None else np.asarray(mean, np.float32),
        float(run.info["cond_scale"]),
        str(path),
        run.step,
    )

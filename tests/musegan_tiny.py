"""A tiny MuseGAN setting for tests: synthetic phrases (no music21) and a very narrow hybrid.

path = make_phrases(tmp_path / "phrases.npz")    # 16 phrases, 4 bars x 48 steps
cfg = tiny_config(path, out_dir)                   # musegan_jax.config.Config
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

CONFIG = Path(__file__).resolve().parents[1] / "configs" / "musegan" / "tiny.py"


def synthetic_phrases(count=16, seed=0, steps=16):
    """Drums on the 8th-note grid, a bass note per beat, triads in piano/guitar/strings."""
    rng = np.random.default_rng(seed)
    out = np.zeros((count, 4, steps, 84, 5), bool)
    beat = steps // 4
    for n in range(count):
        root = int(rng.integers(12, 24))
        for b in range(4):
            out[n, b, :: beat // 2, 12, 0] = True  # kick-like drum on 8ths
            for k in range(4):
                s = k * beat
                out[n, b, s : s + beat - 1, root - 12, 3] = True
                for t, octave in ((1, 36), (2, 24), (4, 48)):
                    for interval in (0, 4, 7):
                        out[n, b, s : s + beat - 1, root + octave + interval - 12, t] = True
    return out


def make_phrases(path, count=16, seed=0):
    from musegan_jax.data import save_phrases

    return save_phrases(path, synthetic_phrases(count, seed), 4)


def tiny_config(data_path, out_dir="", kind="hybrid", **model):
    from train_kit.config import load_config

    cfg = load_config(
        CONFIG,
        [
            f"data.path={data_path}",
            "data.batch_size=8",
            "gan.n_critic=2",
            "gan.eval_samples=4",
            "train.max_steps=2",
            "train.log_every=1",
            "train.ckpt_every=0",
            f"train.out_dir={out_dir}",
            f"model.kind={kind}",
            "model.width=0.03125",
            # 16 steps per bar (4 per beat), few layers (compile time): time grows 1 -> 4 -> 16,
            # the critic shrinks it 16 -> 8 -> 4
            "model.g_time_strides=(4, 4)",
            "model.g_time_channels=(256, 128)",
            "model.d_time_kernels=(2, 2)",
            "model.d_time_channels=(128, 256)",
        ],
    )
    return dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, **model))

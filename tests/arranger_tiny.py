"""A few-step Arranger training on synthetic data, for tests (here and the multi-host check).

    path, overrides = tiny_training(tmp_path)
    cfg = train_kit.config.load_config(path, overrides)
    arranger_jax.train.train(cfg)           # 3 steps of the tiny LSTM, run in tmp_path/run

The data are 40 four-part pieces whose parts sit in separate pitch zones (so the loss falls),
written with arranger_jax.data.save_dataset: no network, no music21.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

CONFIG = Path(__file__).resolve().parents[1] / "configs" / "arranger" / "tiny.py"


def synthetic_pieces(count=40, seed=0):
    from arranger_jax import data

    rng = np.random.default_rng(seed)
    pieces = []
    for i in range(count):
        n = int(rng.integers(30, 90))
        label = rng.integers(0, 4, n)
        pitch = 76 - 8 * label + rng.integers(-3, 4, n)  # soprano high ... bass low
        time = np.sort(rng.integers(0, 24 * n // 3, n))
        piece = data.Piece(f"piece{i:02d}", time, pitch, rng.integers(6, 48, n), np.full(n, 64), label)
        order = np.lexsort((piece.velocity, piece.duration, piece.pitch, piece.time))
        pieces.append(piece.select(order))
    return pieces


def make_dataset(folder, count=40, seed=0):
    """A prepared `bach` dataset folder (4 parts), exact 8:1:1 split."""
    from arranger_jax import data

    data.save_dataset(synthetic_pieces(count, seed), [], folder, "bach", seed=seed, exact_split=True)
    return str(folder)


def tiny_training(tmp_path) -> tuple[str, list[str]]:
    tmp_path = Path(tmp_path)
    folder = make_dataset(tmp_path / "data")
    return str(CONFIG), [
        f"data.path={folder}",
        "data.batch_size=8",
        "train.max_steps=3",
        "train.log_every=1",
        "train.eval_every=0",
        f"train.out_dir={tmp_path / 'run'}",
    ]

"""A minimal MMT training job for tests (the multi-host check among them): fixture data + overrides.

    config_path, overrides = tiny_training(tmp_path)
    cfg = train_kit.config.load_config(config_path, overrides)
    mmt_jax.train.train(cfg)          # 3 steps of a 1-layer model, metrics in <tmp_path>/run

No network and no corpus: the pieces are generated here.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "configs" / "mmt" / "tiny.py"


def write_fixture(root, n_train=12, n_valid=4):
    """A prepared folder in the reference layout: notes/<name>.npy + split lists."""
    root = Path(root)
    (root / "notes").mkdir(parents=True, exist_ok=True)
    names = []
    for i in range(n_train + n_valid):
        n = 40 + 3 * i
        k = np.arange(n)
        notes = np.stack(
            [k // 2, (k % 2) * 6, 60 + (2 * k + i) % 12, np.full(n, 6), np.where(k % 3 == 0, 0, 40)], 1
        ).astype(np.int64)
        np.save(root / "notes" / f"p{i:02d}.npy", notes)
        names.append(f"p{i:02d}")
    (root / "train-names.txt").write_text("\n".join(names[:n_train]) + "\n")
    (root / "valid-names.txt").write_text("\n".join(names[n_train:]) + "\n")
    return root


def tiny_training(tmp_path) -> tuple[str, list[str]]:
    """(config file, overrides) for 3 logged steps of batch 8 on fixture data under tmp_path."""
    data = write_fixture(Path(tmp_path) / "data")
    return str(CONFIG), [
        f"data.path={data}",
        "data.prepare_corpus=''",
        "data.batch_size=8",
        "model.max_seq_len=48",
        "model.depth=1",
        "train.max_steps=3",
        "train.log_every=1",
        "train.eval_every=0",
        "train.keep_best_metric=''",
        f"train.out_dir={Path(tmp_path) / 'run'}",
    ]


def random_params(model, seed=0):
    """Random weights of PyTorch's init scale for `model`, drawn by NumPy (no init program to
    compile), with note-favouring type biases so sampled events are mostly notes."""
    import jax
    import jax.numpy as jnp
    from flax import linen as nn

    from mmt_jax.model import abstract_params

    shapes = nn.meta.unbox(abstract_params(model))
    rng = np.random.default_rng(seed)
    p = jax.tree.map(
        lambda s: jnp.asarray(rng.uniform(-1, 1, s.shape) / np.sqrt(s.shape[0]), s.dtype), shapes
    )
    p["heads_0"]["bias"] = p["heads_0"]["bias"] + jnp.asarray([0.0, 1.0, 0.0, 3.0, -4.0])
    return p

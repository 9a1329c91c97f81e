"""A tiny Arranger LSTM for CPU smoke runs: 2 layers of 16 units, 64-note windows, 40 steps."""

import dataclasses

from arranger_jax.config import experiment


def get_config():
    cfg = experiment("bach", "lstm", online=True, units=16, layers=2, out_dir="runs/arranger/tiny")
    return dataclasses.replace(
        cfg,
        data=dataclasses.replace(cfg.data, seq_len=64, max_eval_len=256, batch_size=8),
        train=dataclasses.replace(cfg.train, max_steps=40, eval_every=20, log_every=10, patience=0),
    )

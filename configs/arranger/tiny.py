"""A tiny Arranger LSTM for CPU smoke runs: 2 layers of 16 units, 64-note windows, 40 steps."""
import dataclasses

from configs.arranger.base import experiment


def get_config():
    exp = experiment("bach", "lstm", online=True, units=16, layers=2, out_dir="runs/arranger/tiny")
    return dataclasses.replace(
        exp,
        data=dataclasses.replace(exp.data, seq_len=64, max_eval_len=256),
        train=dataclasses.replace(exp.train, max_steps=40, eval_every=20, log_every=10, patience=0),
        batch_size=8,
    )

"""The paper's hybrid MuseGAN from scratch (reference §1.2-1.3): 5 bar generators fed a shared
and a private latent, each time-independent and temporal (4 x 32), one critic; WGAN-GP with
lambda 10 and 5 critic updates per generator update; Adam 2e-4, (0.5, 0.9); batch 64.
Data: 4-bar phrases at 24 steps per beat (`musegan-jax prepare --out data/musegan/bach.npz`)."""

import dataclasses

from musegan_jax.config import Config, ModelConfig


def get_config(kind="hybrid", **model):
    cfg = Config(model=ModelConfig(kind=kind, **model))
    return dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, out_dir=f"runs/musegan/{kind}"))

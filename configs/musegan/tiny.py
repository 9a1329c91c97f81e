"""A tiny hybrid MuseGAN for a 2-core CPU: the v1 networks at 1/16 of the paper's widths, 48 steps
per bar (12 per beat), batch 16, 5 critic updates per generator step.
    musegan-jax prepare --beat-resolution 12 --out data/musegan/bach-12.npz
    musegan-jax train --config configs/musegan/tiny.py            (model.kind=composer for composer)
"""

from musegan_jax.config import Config, DataConfig, GanConfig, ModelConfig
from train_kit.config import OptimConfig, TrainConfig

ADAM = OptimConfig(lr=1e-3, b1=0.5, b2=0.9)


def get_config():
    return Config(
        model=ModelConfig(
            kind="hybrid",
            width=1 / 16,
            g_time_channels=(512, 256, 128, 128),
            g_time_strides=(2, 2, 2, 3),
            temporal_hidden=256,
        ),
        data=DataConfig(path="data/musegan/bach-12.npz", batch_size=16, beat_resolution=12),
        gan=GanConfig(eval_samples=128),
        optim=ADAM,
        critic_optim=ADAM,
        train=TrainConfig(max_steps=300, ckpt_every=100, log_every=10, out_dir="runs/musegan/tiny"),
    )

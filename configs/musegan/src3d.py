"""The released code's default (reference §1.2-1.3, "current src/"): 3-D-conv generator and
critic over 4 bars x 48 steps x 84 pitches, one latent of 128; Adam 1e-3, (0.5, 0.9), batch 64,
50k generator steps, 5 critic updates each, gradient penalty 10 (the released linear decay of
the rate over the last 5k steps is not reproduced: optim.decay starts at warm-up's end).
Data at 12 steps per beat: `musegan-jax prepare --beat-resolution 12 --out data/musegan/bach-12.npz`."""

from musegan_jax.config import Config, DataConfig, ModelConfig
from train_kit.config import OptimConfig, TrainConfig

ADAM = OptimConfig(lr=1e-3, b1=0.5, b2=0.9)


def get_config():
    return Config(
        model=ModelConfig(arch="3d"),
        data=DataConfig(path="data/musegan/bach-12.npz", beat_resolution=12),
        optim=ADAM,
        critic_optim=ADAM,
        train=TrainConfig(max_steps=50000, ckpt_every=1000, log_every=100, out_dir="runs/musegan/src3d"),
    )

"""A tiny HiFi-GAN (V3-shaped: rates 8-8-4, ResBlock2) for the tiny CLIPSonic model's mels
(16 kHz, 32 bands, hop 256), trained on the synthetic clips on a 2-core CPU.

    clipsonic-jax train-vocoder --config configs/clipsonic/vocoder_tiny.py
    clipsonic-jax generate --checkpoint runs/clipsonic/tiny --vocoder runs/clipsonic/vocoder-tiny --text "a red shape"

Segments of 16 frames (4,096 samples), batch 8; generator 32 -> 16 -> 8 -> 4 channels, tiny
discriminators (MPD periods 2/3/5; one MSD scale, ungrouped convs: grouped convolutions are
slow on XLA's CPU backend). Numbers in docs/results.md.
"""

from clipsonic_jax.vocoder_config import LossConfig, VocoderDataConfig, VocoderTrainConfig
from model_kit.discriminators import DiscConfig
from model_kit.vocoder_config import VocoderConfig
from music_codecs.mel import MelConfig
from train_kit.config import MeshConfig, OptimConfig, TrainConfig

STEPS = 800


def get_config():
    return VocoderTrainConfig(
        data=VocoderDataConfig(
            path="data/clipsonic/synthetic-tiny",
            synthetic_clips=48,
            batch_size=8,
            segment_frames=16,
            eval_every_nth=5,
            eval_segments=32,
        ),
        mel=MelConfig(n_mels=32, clip_samples=16384),
        vocoder=VocoderConfig.preset("hifigan_v3", n_mels=32, upsample_initial_channel=32),
        disc=DiscConfig(
            periods=(2, 3, 5),
            mpd_channels=(4, 8, 16, 16, 16),
            scales=1,
            msd_channels=(8, 8, 16, 16, 16, 16, 16),
            msd_groups=(1,) * 7,
        ),
        loss=LossConfig(),
        optim=OptimConfig(lr=2e-3, b1=0.8, b2=0.99, warmup_steps=20, clip_norm=10.0),
        optim_d=OptimConfig(lr=2e-3, b1=0.8, b2=0.99, warmup_steps=20, clip_norm=10.0),
        train=TrainConfig(
            max_steps=STEPS,
            eval_every=200,
            ckpt_every=200,
            keep_last=1,
            keep_best_metric="eval_mel_l1",
            log_every=25,
            seed=0,
            out_dir="runs/clipsonic/vocoder-tiny",
            async_checkpoints=False,
        ),
        mesh=MeshConfig(),
    )

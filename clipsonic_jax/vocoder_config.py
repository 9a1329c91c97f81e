"""Configuration of vocoder training (plain dataclasses, no JAX): a HiFi-GAN / BigVGAN generator
(model_kit.vocoder_config) against HiFi-GAN's multi-period and multi-scale discriminators, on a
folder of audio (or videos' audio tracks), mel settings that must match the diffusion model's.

    VocoderTrainConfig(data=..., mel=MelConfig(...), vocoder=VocoderConfig(...), disc=DiscConfig(),
                       loss=LossConfig(), optim=OptimConfig(...), optim_d=OptimConfig(...), ...)
"""

from __future__ import annotations

import dataclasses

from model_kit.discriminators import DiscConfig
from model_kit.vocoder_config import VocoderConfig
from music_codecs.errors import UserError
from music_codecs.mel import MelConfig
from train_kit.config import MeshConfig, OptimConfig, TrainConfig


@dataclasses.dataclass(frozen=True)
class VocoderDataConfig:
    path: str = "data/clipsonic/synthetic"  # a folder of audio files or videos (searched recursively)
    synthetic_clips: int = 0  # > 0: a missing `path` is filled with this many synthetic clips
    batch_size: int = 16  # the global batch of segments
    segment_frames: int = 32  # mel frames per training segment (x hop samples)
    eval_every_nth: int = 8  # every n-th file is held out (0: none)
    eval_segments: int = 64  # at most this many held-out segments per evaluation
    seed: int = 0


@dataclasses.dataclass(frozen=True)
class LossConfig:
    mel_weight: float = 45.0  # HiFi-GAN's weights
    fm_weight: float = 2.0
    adv_weight: float = 1.0


@dataclasses.dataclass(frozen=True)
class VocoderTrainConfig:
    data: VocoderDataConfig = VocoderDataConfig()
    mel: MelConfig = MelConfig()
    vocoder: VocoderConfig = VocoderConfig()
    disc: DiscConfig = DiscConfig()
    loss: LossConfig = LossConfig()
    optim: OptimConfig = OptimConfig(lr=2e-4, b1=0.8, b2=0.99)  # the generator's (HiFi-GAN's Adam)
    optim_d: OptimConfig = OptimConfig(lr=2e-4, b1=0.8, b2=0.99)  # the discriminators'
    train: TrainConfig = TrainConfig()
    mesh: MeshConfig = MeshConfig()

    def __post_init__(self):
        if self.vocoder.hop != self.mel.hop_length:
            raise UserError(
                f"vocoder upsample_rates multiply to {self.vocoder.hop}, but mel.hop_length is "
                f"{self.mel.hop_length}: they must be equal"
            )
        if self.vocoder.n_mels != self.mel.n_mels:
            raise UserError(f"vocoder.n_mels={self.vocoder.n_mels} != mel.n_mels={self.mel.n_mels}")
        if self.data.segment_frames < 2:
            raise UserError("data.segment_frames must be at least 2")

    @property
    def segment_samples(self):
        return self.data.segment_frames * self.mel.hop_length

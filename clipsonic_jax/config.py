"""CLIPSonic's configuration: plain dataclasses, no JAX (config files in configs/clipsonic/ import
only this, music_codecs.mel and train_kit.config).

    Config(data=DataConfig(path=VIDEOS, clip_dir=CLIP_DIR, batch_size=64), mel=MelConfig(...),
           unet=UNetConfig(...), diffusion=DiffusionConfig(...), sample=SampleConfig(...),
           optim=OptimConfig(...), train=TrainConfig(...), mesh=MeshConfig(...))
    cfg = train_kit.config.from_dict(Config, run.config)      # back from a run folder's run.json

`unet.cond_dim` is the CLIP projection width; training sets it from the CLIP folder it loads.
"""

from __future__ import annotations

import dataclasses

from music_codecs.errors import UserError
from music_codecs.mel import MelConfig
from train_kit.config import MeshConfig, OptimConfig, TrainConfig


@dataclasses.dataclass(frozen=True)
class DataConfig:
    path: str = "data/clipsonic/synthetic"  # the folder of videos
    cache_dir: str = ""  # "": <path>/.clipsonic-cache
    clip_dir: str = ""  # a HF CLIP folder: config.json + model.safetensors (+ tokenizer)
    make_tiny_clip: bool = False  # write a tiny *random* CLIP at clip_dir if missing (demo only)
    synthetic_clips: int = 0  # > 0: fill an empty `path` with this many synthetic clips
    batch_size: int = 8  # the global batch (all processes together)
    eval_every_nth: int = 8  # every n-th video is held out for evaluation (0: none)
    standardize_cond: bool = True  # feed (emb - mean) / std of the training image embeddings


@dataclasses.dataclass(frozen=True)
class UNetConfig:
    channels: int = 128
    channel_mults: tuple = (1, 2, 3, 4)
    res_blocks: int = 2
    attention_levels: tuple = (2, 3)  # level indices (0 = full resolution) with self-attention
    heads: int = 4
    groups: int = 32
    cond_dim: int = 512  # CLIP projection dim (512 ViT-B/32, 768 ViT-L/14)
    dropout: float = 0.0

    @classmethod
    def tiny(cls, cond_dim=16):
        return cls(
            channels=16,
            channel_mults=(1, 2),
            res_blocks=1,
            attention_levels=(1,),
            heads=2,
            groups=4,
            cond_dim=cond_dim,
        )

    def __post_init__(self):
        for m in self.channel_mults:
            if (self.channels * m) % self.groups:
                raise UserError(f"unet: channels {self.channels * m} not divisible by groups {self.groups}")


@dataclasses.dataclass(frozen=True)
class DiffusionConfig:
    timesteps: int = 1000
    schedule: str = "cosine"  # "cosine" (Nichol & Dhariwal) | "linear" (Ho et al. betas)
    prediction: str = "eps"  # "eps" | "v"
    cond_drop: float = 0.1  # training probability of dropping the CLIP condition
    linear_beta: tuple = (1e-4, 0.02)

    def __post_init__(self):
        if self.schedule not in ("cosine", "linear"):
            raise UserError(f"diffusion.schedule={self.schedule!r}: choose 'cosine' or 'linear'")
        if self.prediction not in ("eps", "v"):
            raise UserError(f"diffusion.prediction={self.prediction!r}: choose 'eps' or 'v'")


@dataclasses.dataclass(frozen=True)
class SampleConfig:
    sampler: str = "ddim"
    steps: int = 50
    guidance: float = 3.0
    griffin_lim_iters: int = 32


@dataclasses.dataclass(frozen=True)
class Config:
    data: DataConfig = DataConfig()
    mel: MelConfig = MelConfig()
    unet: UNetConfig = UNetConfig()
    diffusion: DiffusionConfig = DiffusionConfig()
    sample: SampleConfig = SampleConfig()
    optim: OptimConfig = OptimConfig(lr=1e-4, warmup_steps=500, clip_norm=1.0)
    train: TrainConfig = TrainConfig()
    mesh: MeshConfig = MeshConfig()

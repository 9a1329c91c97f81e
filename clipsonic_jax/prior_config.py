"""The diffusion prior's configuration (CLIP text -> CLIP image embedding): plain dataclasses, no JAX.

    PriorConfig(data=PriorDataConfig(...), net=PriorNetConfig(...), diffusion=PriorDiffusionConfig(),
                optim=OptimConfig(...), train=TrainConfig(...), mesh=MeshConfig(...))
    PriorNetConfig.vit_l14()     # the released LAION DALLE2-pytorch prior (reference §4.1)
    PriorNetConfig.tiny(dim=64)  # for a 2-core CPU

`net.dim` is the CLIP embedding width and `net.max_text_len` the CLIP context length; training sets
both from the CLIP folder it loads (the text encodings must be as wide as the embedding, which holds
for OpenAI's CLIPs: ViT-L/14's text tower is 768 wide, like its projection).
"""

from __future__ import annotations

import dataclasses

from music_codecs.errors import UserError
from train_kit.config import MeshConfig, OptimConfig, TrainConfig


@dataclasses.dataclass(frozen=True)
class PriorNetConfig:
    """DALLE2-pytorch's DiffusionPriorNetwork with one text, time and image token each."""

    dim: int = 768
    depth: int = 12
    heads: int = 12
    dim_head: int = 64
    ff_mult: int = 4
    num_timesteps: int = 1000  # learned time embeddings, one per diffusion step
    max_text_len: int = 77
    normformer: bool = True  # LayerNorm after SwiGLU in the feed-forward
    rotary_emb: bool = True  # rotary on the first min(32, dim_head) q/k channels
    norm_in: bool = False
    norm_out: bool = True  # final "stable" LayerNorm
    final_proj: bool = True
    attn_dropout: float = 0.0
    ff_dropout: float = 0.0
    cosine_sim_scale: float = 16.0
    rel_pos_buckets: int = 32
    rel_pos_max_distance: int = 128

    @classmethod
    def vit_l14(cls):
        """laion/DALLE2-PyTorch prior/prior_config.json (reference §4.1)."""
        return cls(768, 12, 12, 64, 4, 1000, 77, True, True, False, True, True, 0.05, 0.05)

    @classmethod
    def tiny(cls, dim=64, max_text_len=16):
        return cls(dim=dim, depth=2, heads=4, dim_head=16, ff_mult=2, max_text_len=max_text_len)

    def __post_init__(self):
        if self.dim <= 0 or self.depth <= 0 or self.heads <= 0 or self.dim_head <= 0:
            raise UserError("prior net: dim, depth, heads and dim_head must be positive")


@dataclasses.dataclass(frozen=True)
class PriorDiffusionConfig:
    timesteps: int = 1000
    sample_timesteps: int = 64  # DDIM steps (the released prior's setting)
    schedule: str = "cosine"
    prediction: str = "x0"  # the network predicts the clean image embedding ("x0") or the noise
    cond_drop: float = 0.1  # training: text and image tokens each dropped with this probability
    image_embed_scale: float = 0.0  # 0: sqrt(dim); unit image embeddings are scaled by it
    eta: float = 1.0  # DDIM noise; 1.0 is the reference sampler's default, 0.0 deterministic
    guidance: float = 1.0  # classifier-free guidance scale (1: conditional only, the reference's)
    candidates: int = 2  # samples per prompt; the one most similar to the text is kept
    reference_ddim: bool = False  # True: the reference's step times and off-by-one alphas
    clamp_l2norm: bool = False  # re-normalise predicted x0 to the scaled sphere each step

    def __post_init__(self):
        if self.schedule not in ("cosine", "linear"):
            raise UserError(f"prior diffusion.schedule={self.schedule!r}: choose 'cosine' or 'linear'")
        if self.prediction not in ("x0", "eps"):
            raise UserError(f"prior diffusion.prediction={self.prediction!r}: choose 'x0' or 'eps'")
        if not 1 <= self.sample_timesteps <= self.timesteps:
            raise UserError(f"prior diffusion.sample_timesteps must be in 1..{self.timesteps}")
        if self.candidates < 1:
            raise UserError("prior diffusion.candidates must be at least 1")

    # DiffusionConfig-compatible fields for diffusion.alpha_bar
    @property
    def linear_beta(self):
        return (1e-4 * 1000 / self.timesteps, 0.02 * 1000 / self.timesteps)


@dataclasses.dataclass(frozen=True)
class PriorDataConfig:
    """Where the (caption, image) pairs come from; exactly one source is used.

    path: a folder of videos (the audio model's data; captions from `captions` or, for the
    synthetic set, its labels.csv through `template`), or a folder of images with `captions`.
    captions: a CSV with columns file,caption (several rows per file give several captions).
    """

    path: str = "data/clipsonic/synthetic-tiny"
    captions: str = ""  # CSV file,caption; "" with labels.csv: `template` per label
    template: str = "a {label} shape"  # '|' separates several templates (a pair for each)
    clip_dir: str = "data/clipsonic/tiny-clip"
    cache_dir: str = ""  # "": <path>/.clipsonic-prior-cache
    make_tiny_clip: bool = False
    synthetic_clips: int = 0
    batch_size: int = 16
    eval_every_nth: int = 5  # every n-th file held out (the audio model's split: same n)


@dataclasses.dataclass(frozen=True)
class PriorConfig:
    data: PriorDataConfig = PriorDataConfig()
    net: PriorNetConfig = PriorNetConfig()
    diffusion: PriorDiffusionConfig = PriorDiffusionConfig()
    optim: OptimConfig = OptimConfig(lr=1e-4, warmup_steps=100, clip_norm=1.0)
    train: TrainConfig = TrainConfig()
    mesh: MeshConfig = MeshConfig()

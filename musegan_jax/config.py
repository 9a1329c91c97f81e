"""MuseGAN's config dataclasses (light: config files and run loading import only this).

Config        an experiment: model (ModelConfig), data (DataConfig), gan (GanConfig), optim (the
              generator's optimiser), critic_optim, train, mesh (train_kit's sections)
ModelConfig   which generator/critic (reference §1.2): kind jamming | composer | hybrid, arch
              "v1" (the paper's per-bar 2-D convs with the temporal generator) or "3d" (the
              released code's default), conditional (accompaniment of one given track)
DataConfig    the prepared phrase file, the global batch
GanConfig     WGAN-GP: gradient-penalty weight, critic updates per generator update, schedule
TRACKS        the LPD-5 families in the LPD-5 / released-code order
"""

from __future__ import annotations

import dataclasses
import math

from music_codecs.errors import UserError
from train_kit.config import MeshConfig, OptimConfig, TrainConfig

TRACKS = ("drums", "piano", "guitar", "bass", "strings")
SHORT = {"drums": "D", "piano": "P", "guitar": "G", "bass": "B", "strings": "S"}
PITCHES = 84  # C1..B7
LOWEST_PITCH = 24  # MIDI number of C1
KINDS = ("jamming", "composer", "hybrid")
ARCHS = ("v1", "3d")
DEFAULT_DATA = "data/musegan/bach.npz"


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    kind: str = "hybrid"
    arch: str = "v1"
    conditional: bool = False  # accompaniment: generate the other tracks around condition_track
    condition_track: str = "piano"
    latent: int = 128  # per bar generator: 1 x 128 (v1 jamming/composer: 2 x 64, hybrid: 4 x 32)
    share_temporal_weights: bool = False  # the v1 code's reuse of G_temp for the private G_temp,i
    width: float = 1.0  # multiplies every channel count (tiny CPU variants)
    # v1 bar generator (reference §1.2): dense to g_dense, reshaped (T0, 1, g_dense / T0), then
    # time grown by g_time_strides with g_time_channels, then pitch 1 -> 7 -> 84.
    g_dense: int = 1024
    g_time_channels: tuple = (512, 256, 256, 128, 128)
    g_time_strides: tuple = (2, 2, 2, 2, 3)
    g_pitch_channels: int = 64
    temporal_hidden: int = 1024
    encoder_channels: int = 16  # track-conditional encoder (our choice: the spec gives no size)
    # v1 bar discriminator and the phrase discriminator on its per-bar features
    d_pitch_channels: tuple = (128, 128)
    d_time_kernels: tuple = (2, 2, 4, 3)
    d_time_channels: tuple = (128, 128, 256, 512)
    d_dense: int = 1024
    phrase_channels: tuple = (512, 128)
    bn_momentum: float = 0.9

    def __post_init__(self):
        if self.kind not in KINDS:
            raise UserError(f"model.kind={self.kind!r}: choose one of {', '.join(KINDS)}")
        if self.arch not in ARCHS:
            raise UserError(f"model.arch={self.arch!r}: choose one of {', '.join(ARCHS)}")
        if self.condition_track not in TRACKS:
            raise UserError(
                f"model.condition_track={self.condition_track!r}: choose one of {', '.join(TRACKS)}"
            )
        if self.arch == "3d" and self.conditional:
            raise UserError("model.arch=3d has no track-conditional variant; use arch=v1")

    def ch(self, c):
        return max(1, int(round(c * self.width)))

    def latent_parts(self):
        """Names of the latent inputs of every bar generator (each latent / len of them)."""
        if self.arch == "3d":
            return ("shared",)
        return {
            "composer": ("shared", "temporal"),
            "jamming": ("private", "temporal_private"),
            "hybrid": ("shared", "private", "temporal", "temporal_private"),
        }[self.kind]

    def check_steps(self, steps):
        """Cross-field checks against the data (overrides arrive one at a time, so not in __post_init__)."""
        if len(self.g_time_channels) != len(self.g_time_strides):
            raise UserError("model.g_time_channels and model.g_time_strides need the same length")
        if len(self.d_time_channels) != len(self.d_time_kernels):
            raise UserError("model.d_time_channels and model.d_time_kernels need the same length")
        if self.arch == "3d":
            if steps != 48:
                raise UserError(
                    f"model.arch=3d needs 48 steps per bar (beat resolution 12), the data have {steps}"
                )
            return
        grow = math.prod(self.g_time_strides)
        if steps % grow or self.g_dense % (steps // grow):
            raise UserError(
                f"{steps} steps per bar do not fit model.g_time_strides={self.g_time_strides} "
                f"(their product must divide the steps, and model.g_dense the quotient)"
            )


@dataclasses.dataclass(frozen=True)
class DataConfig:
    path: str = ""  # a phrase file from `musegan-jax prepare`; "" = DEFAULT_DATA
    batch_size: int = 64  # the global batch (all processes together), per update
    bars: int = 4  # set from the data
    beat_resolution: int = 24  # set from the data (steps per beat; a bar is 4 beats)
    seed: int = 0

    def file(self):
        return self.path or DEFAULT_DATA

    @property
    def steps(self):
        return 4 * self.beat_resolution


@dataclasses.dataclass(frozen=True)
class GanConfig:
    gp_weight: float = 10.0  # WGAN-GP's lambda
    n_critic: int = 5  # critic updates per generator update
    critic_schedule: str = "constant"  # "v1": 100 critic updates for the first 25 and every 500th step
    eval_samples: int = 256  # phrases sampled after training for run.json's metrics

    def __post_init__(self):
        if self.critic_schedule not in ("constant", "v1"):
            raise UserError(f"gan.critic_schedule={self.critic_schedule!r}: choose constant or v1")
        if self.n_critic < 1:
            raise UserError(f"gan.n_critic={self.n_critic} must be >= 1")

    def critic_updates(self, step):
        """Critic updates before generator update `step` (0-based)."""
        if self.critic_schedule == "v1" and (step < 25 or step % 500 == 0):
            return 100
        return self.n_critic


ADAM = OptimConfig(lr=2e-4, b1=0.5, b2=0.9)  # v1 (reference §1.3)


@dataclasses.dataclass(frozen=True)
class Config:
    model: ModelConfig = ModelConfig()
    data: DataConfig = DataConfig()
    gan: GanConfig = GanConfig()
    optim: OptimConfig = ADAM  # the generator's
    critic_optim: OptimConfig = ADAM
    train: TrainConfig = TrainConfig(max_steps=20000, ckpt_every=1000, log_every=50)
    mesh: MeshConfig = MeshConfig()

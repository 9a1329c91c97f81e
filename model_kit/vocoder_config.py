"""Vocoder generator settings (plain dataclass, no JAX), with the published presets.

HiFi-GAN (Kong et al. 2020) V1/V2/V3 and BigVGAN (Lee et al. 2023) share one generator shape:
conv_pre (k7) -> per stage a transposed conv (rate r, kernel k) and residual blocks of kernels
3/7/11 averaged -> activation -> conv_post (k7) -> tanh or clamp. HiFi-GAN activates with leaky
ReLU (0.1 inside blocks, 0.01 before conv_post); BigVGAN with anti-aliased Snake/SnakeBeta.
Facts: reference clipsonic.md §4.3 and the HiFi-GAN paper's Table 1 configurations.

    VocoderConfig.preset("hifigan_v1", n_mels=80)
    VocoderConfig.from_bigvgan_json(json.load(open("config.json")))
"""

from __future__ import annotations

import dataclasses

from music_codecs.errors import UserError

_DIL = ((1, 3, 5), (1, 3, 5), (1, 3, 5))


@dataclasses.dataclass(frozen=True)
class VocoderConfig:
    kind: str = "hifigan"  # "hifigan" | "bigvgan"
    n_mels: int = 80
    upsample_rates: tuple = (8, 8, 2, 2)
    upsample_kernel_sizes: tuple = (16, 16, 4, 4)
    upsample_initial_channel: int = 512
    resblock: str = "1"  # "1": two convs per dilation; "2": one
    resblock_kernel_sizes: tuple = (3, 7, 11)
    resblock_dilation_sizes: tuple = _DIL
    activation: str = "snakebeta"  # bigvgan only: "snake" | "snakebeta"
    snake_logscale: bool = True
    use_bias_at_final: bool = True
    use_tanh_at_final: bool = True

    def __post_init__(self):
        if self.kind not in ("hifigan", "bigvgan"):
            raise UserError(f"vocoder.kind={self.kind!r}: choose 'hifigan' or 'bigvgan'")
        if self.resblock not in ("1", "2"):
            raise UserError(f"vocoder.resblock={self.resblock!r}: choose '1' or '2'")
        if len(self.upsample_rates) != len(self.upsample_kernel_sizes):
            raise UserError("vocoder: upsample_rates and upsample_kernel_sizes differ in length")
        if len(self.resblock_kernel_sizes) != len(self.resblock_dilation_sizes):
            raise UserError("vocoder: resblock_kernel_sizes and resblock_dilation_sizes differ in length")
        if self.upsample_initial_channel % (2 ** len(self.upsample_rates)):
            raise UserError("vocoder: upsample_initial_channel must halve cleanly at every stage")
        if self.kind == "bigvgan" and self.activation not in ("snake", "snakebeta"):
            raise UserError(f"vocoder.activation={self.activation!r}: choose 'snake' or 'snakebeta'")

    @property
    def hop(self):
        """Samples per mel frame (the product of the upsample rates)."""
        h = 1
        for r in self.upsample_rates:
            h *= r
        return h

    @classmethod
    def preset(cls, name, **overrides):
        presets = {
            "hifigan_v1": dict(kind="hifigan", upsample_initial_channel=512),
            "hifigan_v2": dict(kind="hifigan", upsample_initial_channel=128),
            "hifigan_v3": dict(
                kind="hifigan",
                upsample_rates=(8, 8, 4),
                upsample_kernel_sizes=(16, 16, 8),
                upsample_initial_channel=256,
                resblock="2",
                resblock_dilation_sizes=((1, 2), (2, 6), (3, 12)),
            ),
            "bigvgan_v2_22khz_80band_256x": dict(
                kind="bigvgan",
                upsample_rates=(4, 4, 2, 2, 2, 2),
                upsample_kernel_sizes=(8, 8, 4, 4, 4, 4),
                upsample_initial_channel=1536,
                use_bias_at_final=False,
                use_tanh_at_final=False,
            ),
            "bigvgan_base_22khz_80band": dict(kind="bigvgan", upsample_kernel_sizes=(16, 16, 4, 4)),
        }
        if name not in presets:
            raise UserError(f"unknown vocoder preset {name!r}; choose from {', '.join(presets)}")
        return cls(**{**presets[name], **overrides})

    @classmethod
    def from_bigvgan_json(cls, h: dict):
        """The fields of a `bigvgan` package config.json (num_mels, upsample_rates, ...)."""
        try:
            return cls(
                kind="bigvgan",
                n_mels=int(h["num_mels"]),
                **_generator_fields(h),
                activation=h.get("activation", "snakebeta"),
                snake_logscale=bool(h.get("snake_logscale", True)),
                use_bias_at_final=bool(h.get("use_bias_at_final", True)),
                use_tanh_at_final=bool(h.get("use_tanh_at_final", True)),
            )
        except KeyError as err:
            raise UserError(f"BigVGAN config.json lacks {err}") from err

    @classmethod
    def from_hifigan_json(cls, h: dict):
        """The fields of a HiFi-GAN config_v*.json."""
        try:
            return cls(kind="hifigan", n_mels=int(h.get("num_mels", 80)), **_generator_fields(h))
        except KeyError as err:
            raise UserError(f"HiFi-GAN config json lacks {err}") from err


def _generator_fields(h: dict) -> dict:
    """The upsampling and residual-block fields that HiFi-GAN and BigVGAN config files share."""
    return dict(
        upsample_rates=tuple(h["upsample_rates"]),
        upsample_kernel_sizes=tuple(h["upsample_kernel_sizes"]),
        upsample_initial_channel=int(h["upsample_initial_channel"]),
        resblock=str(h["resblock"]),
        resblock_kernel_sizes=tuple(h["resblock_kernel_sizes"]),
        resblock_dilation_sizes=tuple(tuple(d) for d in h["resblock_dilation_sizes"]),
    )

"""HiFi-GAN's discriminators in Flax: multi-period (MPD: the wave folded into [T/p, p] for each
period p, 2-D convs along time) and multi-scale (MSD: 1-D grouped convs on the wave and on its
x2 and x4 average-pooled versions). Each sub-discriminator returns (logits, feature maps); the
feature maps feed the feature-matching loss. Widths are configurable so tests and CPU runs can
shrink them (HiFi-GAN's: MPD 32-128-512-1024-1024, MSD 128-128-256-512-1024-1024-1024).

    disc = Discriminators(DiscConfig())
    outs = disc.apply({"params": p}, wave)     # [(logits [B, ...], [fmap, ...]), ...]
"""

from __future__ import annotations

import dataclasses

import flax.linen as nn
import jax.numpy as jnp

from music_codecs.errors import UserError

SLOPE = 0.1


@dataclasses.dataclass(frozen=True)
class DiscConfig:
    periods: tuple = (2, 3, 5, 7, 11)
    mpd_channels: tuple = (32, 128, 512, 1024, 1024)
    scales: int = 3
    msd_channels: tuple = (128, 128, 256, 512, 1024, 1024, 1024)
    msd_groups: tuple = (1, 4, 16, 16, 16, 16, 1)

    def __post_init__(self):
        if len(self.msd_channels) != 7 or len(self.msd_groups) != 7:
            raise UserError("disc.msd_channels and disc.msd_groups need 7 entries (HiFi-GAN's MSD layers)")
        cin = 1
        for c, g in zip(self.msd_channels, self.msd_groups):
            if cin % g or c % g:
                raise UserError(f"disc: MSD groups {g} must divide channels {cin} -> {c}")
            cin = c
        if len(self.mpd_channels) != 5:
            raise UserError("disc.mpd_channels needs 5 entries (HiFi-GAN's MPD layers)")

    @classmethod
    def tiny(cls):
        return cls(
            periods=(2, 3, 5),
            mpd_channels=(4, 8, 16, 16, 16),
            scales=2,
            msd_channels=(8, 8, 16, 16, 16, 16, 16),
            msd_groups=(1, 2, 4, 4, 4, 4, 1),
        )


class PeriodDiscriminator(nn.Module):
    period: int
    channels: tuple

    @nn.compact
    def __call__(self, wave):
        b, t = wave.shape
        if t % self.period:
            n = self.period - t % self.period
            wave = jnp.pad(wave, ((0, 0), (0, n)), mode="reflect")
        x = wave.reshape(b, -1, self.period, 1)
        fmaps = []
        for i, c in enumerate(self.channels):
            stride = 3 if i < len(self.channels) - 1 else 1
            x = nn.leaky_relu(nn.Conv(c, (5, 1), (stride, 1), padding=((2, 2), (0, 0)))(x), SLOPE)
            fmaps.append(x)
        x = nn.Conv(1, (3, 1), padding=((1, 1), (0, 0)))(x)
        fmaps.append(x)
        return x.reshape(b, -1), fmaps


class ScaleDiscriminator(nn.Module):
    channels: tuple
    groups: tuple

    @nn.compact
    def __call__(self, wave):
        x = wave[..., None]
        spec = ((15, 1), (41, 2), (41, 2), (41, 4), (41, 4), (41, 1), (5, 1))  # (kernel, stride)
        fmaps = []
        for (k, s), c, g in zip(spec, self.channels, self.groups):
            x = nn.Conv(c, (k,), (s,), padding=[(k // 2, k // 2)], feature_group_count=g)(x)
            x = nn.leaky_relu(x, SLOPE)
            fmaps.append(x)
        x = nn.Conv(1, (3,), padding=[(1, 1)])(x)
        fmaps.append(x)
        return x.reshape(x.shape[0], -1), fmaps


def avg_pool_wave(wave):
    """AvgPool1d(4, stride 2, padding 2) with the zero padding counted, as torch's default."""
    x = nn.avg_pool(wave[..., None], (4,), (2,), padding=[(2, 2)], count_include_pad=True)
    return x[..., 0]


class Discriminators(nn.Module):
    cfg: DiscConfig

    @nn.compact
    def __call__(self, wave):
        outs = [
            PeriodDiscriminator(p, self.cfg.mpd_channels, name=f"mpd_{p}")(wave) for p in self.cfg.periods
        ]
        x = wave
        for s in range(self.cfg.scales):
            if s:
                x = avg_pool_wave(x)
            outs.append(ScaleDiscriminator(self.cfg.msd_channels, self.cfg.msd_groups, name=f"msd_{s}")(x))
        return outs

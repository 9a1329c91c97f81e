"""The paper's networks (reference §1.2): bar generators, the temporal generator, the
track-conditional encoder, the bar and phrase critic; `build(cfg, bars, steps)` picks v1 or 3-D.

Shapes: a phrase is x [B, bars, steps, 84, tracks] in [-1, 1]; latents are a dict of
"shared" [B, d], "private" [B, tracks, d], "temporal" [B, d], "temporal_private" [B, tracks, d]
(which of them a model takes: ModelConfig.latent_parts, each of size latent / len(parts)).
The generator returns tanh outputs [B, bars, steps, 84, tracks]; the critic returns scores
[B, K] (K = tracks for jamming's one critic per track, else 1).

v1 bar generator: dense to g_dense, reshaped to (T0, 1, g_dense / T0), transposed convs that
grow time by g_time_strides ((2, 2, 2, 2, 3): 2 -> 96 steps; the spec's listed (2, 1) kernels
cannot reach 96 from 2, so the last layer grows by 3 -- our reading), then pitch 1 -> 7 -> 84;
BatchNorm + ReLU after every layer but the last (tanh). With a condition, every layer's input is
joined with the encoder's feature map of the same size (the v1 code's "concat_prev").
Critic: LeakyReLU(0.2), no normalisation.
"""

from __future__ import annotations

import dataclasses
import math

import flax.linen as nn
import jax.numpy as jnp

from musegan_jax.config import PITCHES, TRACKS, ModelConfig
from musegan_jax.layers import bn_relu, conv, dense, lrelu, tconv


class BarEncoder(nn.Module):
    """The given track's bar [N, steps, 84, 1] -> feature maps matching the generator's layers."""

    cfg: ModelConfig

    @nn.compact
    def __call__(self, x, train):
        c, e = self.cfg, self.cfg.ch(self.cfg.encoder_channels)
        feats = []
        h = bn_relu(conv(x, e, (1, 12)), train, c.bn_momentum)
        feats.append(h)  # (steps, 7): input of the last pitch layer
        h = bn_relu(conv(h, e, (1, 7)), train, c.bn_momentum)
        feats.append(h)  # (steps, 1): input of the first pitch layer
        for s in reversed(c.g_time_strides):
            h = bn_relu(conv(h, e, (s, 1)), train, c.bn_momentum)
            feats.append(h)
        return feats[::-1]


class BarGenerator(nn.Module):
    cfg: ModelConfig
    steps: int
    out_tracks: int

    @nn.compact
    def __call__(self, z, train, cond=None):  # z [N, d] -> [N, steps, 84, out_tracks]
        c = self.cfg
        t0 = self.steps // math.prod(c.g_time_strides)
        m = c.bn_momentum
        width = c.ch(c.g_dense)
        h = bn_relu(dense(z, width - width % t0), train, m)
        h = h.reshape(h.shape[0], t0, 1, -1)
        join = (lambda h, i: jnp.concatenate([h, cond[i]], -1)) if cond is not None else (lambda h, i: h)
        for i, (ch, s) in enumerate(zip(c.g_time_channels, c.g_time_strides)):
            h = bn_relu(tconv(join(h, i), c.ch(ch), (s, 1)), train, m)
        n = len(c.g_time_strides)
        h = bn_relu(tconv(join(h, n), c.ch(c.g_pitch_channels), (1, 7)), train, m)
        return jnp.tanh(tconv(join(h, n + 1), self.out_tracks, (1, 12)))


class TemporalGenerator(nn.Module):
    """z [B, d] -> one latent per bar [B, bars, out]: (2,1)/2 transposed conv, then (bars-1, 1)."""

    cfg: ModelConfig
    bars: int
    out: int

    @nn.compact
    def __call__(self, z, train):
        c = self.cfg
        h = bn_relu(tconv(z[:, None, None, :], c.ch(c.temporal_hidden), (2, 1)), train, c.bn_momentum)
        h = bn_relu(tconv(h, self.out, (self.bars - 1, 1), (1, 1)), train, c.bn_momentum)
        return h[:, :, 0, :]


class Generator(nn.Module):
    cfg: ModelConfig
    bars: int
    steps: int

    @nn.compact
    def __call__(self, latents, train, condition=None):
        """condition: the given track [B, bars, steps, 84] in [-1, 1] (conditional models)."""
        c = self.cfg
        parts = c.latent_parts()
        d = c.latent // len(parts)
        any_latent = next(iter(latents.values()))
        b, m = any_latent.shape[0], len(TRACKS)
        cond = None
        if c.conditional:
            flat = condition.reshape(b * self.bars, self.steps, PITCHES, 1)
            cond = BarEncoder(c, name="encoder")(flat, train)
        shared_temporal = None
        if "temporal" in parts:
            shared_temporal = TemporalGenerator(c, self.bars, d, name="temporal")
        private_temporal = [None] * m
        if "temporal_private" in parts:
            for i, track in enumerate(TRACKS):
                private_temporal[i] = (
                    shared_temporal
                    if c.share_temporal_weights and shared_temporal is not None
                    else TemporalGenerator(c, self.bars, d, name=f"temporal_{track}")
                )

        def bar_inputs(i=None):  # [B * bars, latent] for track i (None: all tracks, composer)
            pieces = []
            for part in parts:
                if part == "shared":
                    pieces.append(jnp.repeat(latents["shared"][:, None], self.bars, 1))
                elif part == "private":
                    pieces.append(jnp.repeat(latents["private"][:, i][:, None], self.bars, 1))
                elif part == "temporal":
                    pieces.append(shared_temporal(latents["temporal"], train))
                else:
                    pieces.append(private_temporal[i](latents["temporal_private"][:, i], train))
            return jnp.concatenate(pieces, -1).reshape(b * self.bars, -1)

        if c.kind == "composer":
            out = BarGenerator(c, self.steps, m, name="bar")(bar_inputs(), train, cond)
        else:
            tracks = []
            for i, track in enumerate(TRACKS):
                if c.conditional and track == c.condition_track:
                    tracks.append(jnp.zeros((b * self.bars, self.steps, PITCHES, 1), any_latent.dtype))
                    continue
                tracks.append(BarGenerator(c, self.steps, 1, name=f"bar_{track}")(bar_inputs(i), train, cond))
            out = jnp.concatenate(tracks, -1)
        out = out.reshape(b, self.bars, self.steps, PITCHES, m)
        if c.conditional:
            k = TRACKS.index(c.condition_track)
            out = out.at[..., k].set(condition.astype(out.dtype))
        return out


class BarFeatures(nn.Module):
    """One bar [N, steps, 84, C] -> a feature vector [N, d_dense] (v1 bar discriminator)."""

    cfg: ModelConfig

    @nn.compact
    def __call__(self, x):
        c = self.cfg
        h = lrelu(conv(x, c.ch(c.d_pitch_channels[0]), (1, 12)))
        h = lrelu(conv(h, c.ch(c.d_pitch_channels[1]), (1, 7)))
        for i, (k, ch) in enumerate(zip(c.d_time_kernels, c.d_time_channels)):
            h = lrelu(conv(h, c.ch(ch), (k, 1), (2, 1)))
        return lrelu(dense(h.reshape(h.shape[0], -1), c.ch(c.d_dense)))


class PhraseCritic(nn.Module):
    """A phrase [B, bars, steps, 84, C] -> one score: bar features, then the phrase
    discriminator over the bars ((2, 1) -> 512, (bars - 1, 1) -> 128, dense, dense -> 1)."""

    cfg: ModelConfig

    @nn.compact
    def __call__(self, x):
        c = self.cfg
        b, bars = x.shape[:2]
        f = BarFeatures(c, name="bar")(x.reshape(b * bars, *x.shape[2:]))
        h = f.reshape(b, bars, 1, -1)
        h = lrelu(conv(h, c.ch(c.phrase_channels[0]), (2, 1), (1, 1)))
        h = lrelu(conv(h, c.ch(c.phrase_channels[1]), (bars - 1, 1), (bars - 1, 1)))
        h = lrelu(dense(h.reshape(b, -1), c.ch(c.d_dense)))
        return dense(h, 1)


class Critic(nn.Module):
    cfg: ModelConfig

    @nn.compact
    def __call__(self, x):  # [B, bars, steps, 84, tracks] -> [B, K]
        if self.cfg.kind != "jamming":
            return PhraseCritic(self.cfg, name="critic")(x)
        scores = [PhraseCritic(self.cfg, name=f"critic_{t}")(x[..., i : i + 1]) for i, t in enumerate(TRACKS)]
        return jnp.concatenate(scores, -1)


@dataclasses.dataclass(frozen=True)
class Models:
    generator: nn.Module
    critic: nn.Module
    cfg: ModelConfig
    bars: int
    steps: int


def build(cfg: ModelConfig, bars: int, steps: int) -> Models:
    cfg.check_steps(steps)
    if cfg.arch == "3d":
        from musegan_jax.models3d import Critic3D, Generator3D

        return Models(Generator3D(cfg, bars, steps), Critic3D(cfg), cfg, bars, steps)
    return Models(Generator(cfg, bars, steps), Critic(cfg), cfg, bars, steps)

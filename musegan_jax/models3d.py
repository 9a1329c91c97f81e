"""The released code's default networks (reference §1.2, "current src/"): 3-D convolutions over
(bar, step, pitch), 4 bars x 48 steps x 84 pitches, one latent z of 128.

Generator: shared transposed convs z -> (4, 1, 1) x 512 -> (4, 4, 3) x 256 -> (4, 16, 7) x 128;
per track two private branches, pitch-then-time (32 ch (1, 1, 12), then 16 ch (1, 3, 1)) and
time-then-pitch (32 ch (1, 3, 1), then 16 ch (1, 1, 12)), joined, a 1x1x1 conv to one channel and
BatchNorm; the tracks joined and tanh. BatchNorm + ReLU after every hidden layer.
Critic (LeakyReLU, no normalisation): private branches mirroring the generator's (16 then 32
channels each: our sizes), shared convs 128 (1, 4, 3)/(1, 4, 2) and 256 (1, 4, 3)/(1, 4, 3), a
chroma stream (per-beat pitch classes) and an onset stream (per-step onsets summed over pitch)
of our sizes (64 -> 128 and 32 -> 64 -> 128), merged by a 512 (2, 1, 1) conv, then dense -> 1.
"""

from __future__ import annotations

import flax.linen as nn
import jax.numpy as jnp

from musegan_jax.config import PITCHES, TRACKS, ModelConfig
from musegan_jax.layers import batch_norm, bn_relu, conv, dense, lrelu, tconv


class Generator3D(nn.Module):
    cfg: ModelConfig
    bars: int
    steps: int

    @nn.compact
    def __call__(self, latents, train, condition=None):
        c, m = self.cfg, self.cfg.bn_momentum
        z = latents["shared"]
        h = z[:, None, None, None, :]
        h = bn_relu(tconv(h, c.ch(512), (4, 1, 1)), train, m)
        h = bn_relu(tconv(h, c.ch(256), (1, 4, 3)), train, m)
        h = bn_relu(tconv(h, c.ch(128), (1, 4, 3), (1, 4, 2)), train, m)  # (4, 16, 7)
        tracks = []
        for track in TRACKS:
            with_pitch = bn_relu(tconv(h, c.ch(32), (1, 1, 12), name=f"{track}_p1"), train, m)
            with_pitch = bn_relu(tconv(with_pitch, c.ch(16), (1, 3, 1), name=f"{track}_p2"), train, m)
            with_time = bn_relu(tconv(h, c.ch(32), (1, 3, 1), name=f"{track}_t1"), train, m)
            with_time = bn_relu(tconv(with_time, c.ch(16), (1, 1, 12), name=f"{track}_t2"), train, m)
            joined = jnp.concatenate([with_pitch, with_time], -1)
            out = conv(joined, 1, (1, 1, 1), name=f"{track}_out")
            tracks.append(batch_norm(out, train, m, name=f"{track}_bn"))
        return jnp.tanh(jnp.concatenate(tracks, -1))  # [B, 4, 48, 84, 5]


class Critic3D(nn.Module):
    cfg: ModelConfig

    @nn.compact
    def __call__(self, x):  # [B, 4, 48, 84, 5] -> [B, 1]
        c = self.cfg
        b = x.shape[0]
        private = []
        for i, track in enumerate(TRACKS):
            xi = x[..., i : i + 1]
            a = lrelu(conv(xi, c.ch(16), (1, 1, 12), name=f"{track}_p1"))
            a = lrelu(conv(a, c.ch(32), (1, 3, 1), name=f"{track}_p2"))
            t = lrelu(conv(xi, c.ch(16), (1, 3, 1), name=f"{track}_t1"))
            t = lrelu(conv(t, c.ch(32), (1, 1, 12), name=f"{track}_t2"))
            private.append(jnp.concatenate([a, t], -1))  # (4, 16, 7)
        h = jnp.concatenate(private, -1)
        h = lrelu(conv(h, c.ch(128), (1, 4, 3), (1, 4, 2)))  # (4, 4, 3)
        h = lrelu(conv(h, c.ch(256), (1, 4, 3), (1, 4, 3)))  # (4, 1, 1)
        on = (x + 1) / 2
        beats = on.reshape(b, 4, 4, 12, PITCHES // 12, 12, len(TRACKS)).sum((3, 4))  # (4, 4 beats, 12)
        chroma = lrelu(conv(beats, c.ch(64), (1, 1, 12)))
        chroma = lrelu(conv(chroma, c.ch(128), (1, 4, 1)))  # (4, 1, 1)
        onsets = jnp.maximum(jnp.diff(on, axis=2, prepend=0.0), 0).sum(3, keepdims=True)  # (4, 48, 1)
        onset = lrelu(conv(onsets, c.ch(32), (1, 4, 1)))
        onset = lrelu(conv(onset, c.ch(64), (1, 3, 1)))
        onset = lrelu(conv(onset, c.ch(128), (1, 4, 1)))  # (4, 1, 1)
        h = jnp.concatenate([h, chroma, onset], -1)
        h = lrelu(conv(h, c.ch(512), (2, 1, 1), (1, 1, 1)))  # (3, 1, 1)
        return dense(h.reshape(b, -1), 1)

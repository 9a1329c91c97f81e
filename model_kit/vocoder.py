"""HiFi-GAN V1/V2/V3 and BigVGAN generators in Flax Linen: log-mel [B, frames, n_mels] ->
waveform [B, frames * hop]. Channels-last throughout; parameters are plain convolutions (weight
norm is folded at import, model_kit.vocoder_load; our own training uses plain convs).

BigVGAN's anti-aliased activation (reference clipsonic.md §4.3): upsample x2 with a 12-tap
Kaiser-windowed sinc (cutoff 0.25, half-width 0.3; replicate padding), Snake/SnakeBeta, then
low-pass and decimate by 2 with the same filter. SnakeBeta(x) = x + sin²(αx) / β, α and β kept
as logs when snake_logscale.

    gen = Generator(VocoderConfig.preset("hifigan_v2"))
    params = gen.init(rng, logmel)["params"]; wave = gen.apply({"params": params}, logmel)
"""

from __future__ import annotations

import functools

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from model_kit.vocoder_config import VocoderConfig

LRELU_SLOPE = 0.1


def padding(kernel, dilation=1):
    return (kernel * dilation - dilation) // 2


@functools.lru_cache(maxsize=4)
def kaiser_sinc(cutoff=0.25, half_width=0.3, size=12):
    """The low-pass filter [size] of the alias-free activation (sums to 1)."""
    half = size // 2
    a = 2.285 * (half - 1) * np.pi * 4 * half_width + 7.95
    beta = (
        0.1102 * (a - 8.7) if a > 50 else (0.5842 * (a - 21) ** 0.4 + 0.07886 * (a - 21) if a >= 21 else 0.0)
    )
    t = np.arange(-half, half) + 0.5 if size % 2 == 0 else np.arange(size) - half
    f = 2 * cutoff * np.kaiser(size, beta) * np.sinc(2 * cutoff * t)
    return (f / f.sum()).astype(np.float32)


def _depthwise(x, taps, *, stride=1, lhs_dilation=1, pad=(0, 0)):
    """Per-channel correlation of x [B, T, C] with taps [K] (flip the taps for a convolution)."""
    c = x.shape[-1]
    kernel = jnp.broadcast_to(jnp.asarray(taps, x.dtype)[:, None, None], (len(taps), 1, c))
    return jax.lax.conv_general_dilated(
        x,
        kernel,
        window_strides=(stride,),
        padding=[pad],
        lhs_dilation=(lhs_dilation,),
        dimension_numbers=("NWC", "WIO", "NWC"),
        feature_group_count=c,
    )


def upsample2(x, size=12):
    """x2 by a transposed depthwise conv with the Kaiser sinc, as BigVGAN's UpSample1d."""
    taps = kaiser_sinc(0.25, 0.3, size)
    p = size // 2 - 1
    x = jnp.pad(x, ((0, 0), (p, p), (0, 0)), mode="edge")
    y = 2.0 * _depthwise(x, taps[::-1], lhs_dilation=2, pad=(size - 1, size - 1))
    left = p * 2 + (size - 2) // 2
    right = p * 2 + (size - 2 + 1) // 2
    return y[:, left : y.shape[1] - right]


def downsample2(x, size=12):
    taps = kaiser_sinc(0.25, 0.3, size)
    left, right = size // 2 - int(size % 2 == 0), size // 2
    x = jnp.pad(x, ((0, 0), (left, right), (0, 0)), mode="edge")
    return _depthwise(x, taps, stride=2)


class Snake(nn.Module):
    """Snake (beta=False) or SnakeBeta, per channel, optionally anti-aliased (x2 up, act, x2 down)."""

    channels: int
    beta: bool = True
    logscale: bool = True
    anti_alias: bool = True

    @nn.compact
    def __call__(self, x):
        init = nn.initializers.zeros if self.logscale else nn.initializers.ones
        alpha = self.param("alpha", init, (self.channels,))
        beta = self.param("beta", init, (self.channels,)) if self.beta else alpha
        if self.logscale:
            alpha, beta = jnp.exp(alpha), jnp.exp(beta)
        if self.anti_alias:
            x = upsample2(x)
        x = x + (1.0 / (beta + 1e-9)) * jnp.sin(x * alpha) ** 2
        return downsample2(x) if self.anti_alias else x


def conv1d(features, kernel, dilation=1, name=None, use_bias=True):
    return nn.Conv(
        features,
        (kernel,),
        kernel_dilation=(dilation,),
        padding=[(padding(kernel, dilation),) * 2],
        use_bias=use_bias,
        name=name,
    )


class ConvTranspose1d(nn.Module):
    """torch.nn.ConvTranspose1d(in, out, kernel, stride, padding) semantics; kernel [K, in, out]
    in the torch orientation (weight [in, out, K] transposed), so the importer only transposes."""

    features: int
    kernel: int
    stride: int
    padding: int

    @nn.compact
    def __call__(self, x):
        k = self.param("kernel", nn.initializers.lecun_normal(), (self.kernel, x.shape[-1], self.features))
        b = self.param("bias", nn.initializers.zeros, (self.features,))
        p = self.kernel - 1 - self.padding
        y = jax.lax.conv_general_dilated(
            x,
            k[::-1].astype(x.dtype),
            window_strides=(1,),
            padding=[(p, p)],
            lhs_dilation=(self.stride,),
            dimension_numbers=("NWC", "WIO", "NWC"),
        )
        return y + b.astype(x.dtype)


class ResBlock(nn.Module):
    """HiFi-GAN ResBlock1/2 (leaky ReLU) or BigVGAN AMPBlock1/2 (anti-aliased snake)."""

    cfg: VocoderConfig
    channels: int
    kernel: int
    dilations: tuple

    def _act(self, x, index):
        if self.cfg.kind == "hifigan":
            return nn.leaky_relu(x, LRELU_SLOPE)
        return Snake(
            self.channels,
            self.cfg.activation == "snakebeta",
            self.cfg.snake_logscale,
            name=f"activations_{index}",
        )(x)

    @nn.compact
    def __call__(self, x):
        for j, d in enumerate(self.dilations):
            if self.cfg.resblock == "1":
                xt = self._act(x, 2 * j)
                xt = conv1d(self.channels, self.kernel, d, name=f"convs1_{j}")(xt)
                xt = self._act(xt, 2 * j + 1)
                xt = conv1d(self.channels, self.kernel, 1, name=f"convs2_{j}")(xt)
            else:
                xt = conv1d(self.channels, self.kernel, d, name=f"convs_{j}")(self._act(x, j))
            x = x + xt
        return x


class Generator(nn.Module):
    cfg: VocoderConfig

    @nn.compact
    def __call__(self, mel):
        """mel [B, frames, n_mels] (natural-log magnitudes) -> wave [B, frames * hop]."""
        c = self.cfg
        x = conv1d(c.upsample_initial_channel, 7, name="conv_pre")(mel)
        ch = c.upsample_initial_channel
        n = len(c.resblock_kernel_sizes)
        for i, (u, k) in enumerate(zip(c.upsample_rates, c.upsample_kernel_sizes)):
            if c.kind == "hifigan":
                x = nn.leaky_relu(x, LRELU_SLOPE)
            ch = c.upsample_initial_channel // 2 ** (i + 1)
            x = ConvTranspose1d(ch, k, u, (k - u) // 2, name=f"ups_{i}")(x)
            xs = sum(
                ResBlock(c, ch, rk, tuple(rd), name=f"resblocks_{i * n + j}")(x)
                for j, (rk, rd) in enumerate(zip(c.resblock_kernel_sizes, c.resblock_dilation_sizes))
            )
            x = xs / n
        if c.kind == "hifigan":
            x = nn.leaky_relu(x, 0.01)  # HiFi-GAN's last activation uses torch's default slope
        else:
            x = Snake(ch, c.activation == "snakebeta", c.snake_logscale, name="activation_post")(x)
        x = conv1d(1, 7, name="conv_post", use_bias=c.use_bias_at_final or c.kind == "hifigan")(x)
        x = jnp.tanh(x) if (c.use_tanh_at_final or c.kind == "hifigan") else jnp.clip(x, -1.0, 1.0)
        return x[..., 0]


def init_generator(cfg: VocoderConfig, rng, frames=8):
    return Generator(cfg).init(rng, jnp.zeros((1, frames, cfg.n_mels)))["params"]

"""A 2-D U-Net over the mel "image", conditioned on a timestep and a CLIP embedding.

The CLIP embedding goes through a small MLP and is added to the timestep embedding; every residual
block adds a projection of that sum to its features (the usual global conditioning of DDPM/ADM
U-Nets). A dropped condition (`keep` False, classifier-free guidance) uses a learned null
embedding instead. Channels per level, residual blocks per level and the levels with
self-attention are config values; the paper's sizes are unknown (reference §1.2), the default is a
guess of the right order (~143 M parameters is the third-party count for CLIPSonic-IQ).

    net = UNet(UNetConfig.tiny())                  # UNetConfig lives in clipsonic_jax/config.py
    params = init_params(net, rng, (M, T))         # boxed (logical axis names); unbox to apply
    out = net.apply({"params": p}, x [B, M, T], t int [B], cond [B, D], keep bool [B])   # [B, M, T]
    apply_fn = make_apply(net)                     # apply_fn(params, x, t, cond, keep): diffusion's form

Mel bands and frames must be divisible by 2**(levels - 1). Parameters carry logical axis names
for train_kit's rules (conv kernels: conv_in/conv_out; dense: embed/mlp).
"""

from __future__ import annotations

import math

import flax.linen as nn
import jax
import jax.numpy as jnp

from clipsonic_jax.config import UNetConfig  # noqa: F401  (re-exported: the model's config)
from music_codecs.errors import UserError

ACT = ("batch", "height", "width", "channels")


def _conv(features, kernel=3, stride=1, name=None, zero=False):
    init = nn.initializers.zeros if zero else nn.initializers.lecun_normal()
    return nn.Conv(
        features,
        (kernel, kernel),
        strides=stride,
        padding="SAME",
        name=name,
        kernel_init=nn.with_logical_partitioning(init, (None, None, "conv_in", "conv_out")),
        bias_init=nn.with_logical_partitioning(nn.initializers.zeros, ("conv_out",)),
    )


def _dense(features, name=None, zero=False):
    init = nn.initializers.zeros if zero else nn.initializers.lecun_normal()
    return nn.Dense(
        features,
        name=name,
        kernel_init=nn.with_logical_partitioning(init, ("embed", "mlp")),
        bias_init=nn.with_logical_partitioning(nn.initializers.zeros, ("mlp",)),
    )


def _norm(groups, name=None):
    return nn.GroupNorm(
        num_groups=groups,
        name=name,
        scale_init=nn.with_logical_partitioning(nn.initializers.ones, ("norm",)),
        bias_init=nn.with_logical_partitioning(nn.initializers.zeros, ("norm",)),
    )


def timestep_embedding(t, dim, max_period=10000.0):
    half = dim // 2
    freqs = jnp.exp(-math.log(max_period) * jnp.arange(half, dtype=jnp.float32) / half)
    args = t.astype(jnp.float32)[:, None] * freqs[None]
    return jnp.concatenate([jnp.cos(args), jnp.sin(args)], axis=-1)


class ResBlock(nn.Module):
    features: int
    groups: int
    dropout: float = 0.0

    @nn.compact
    def __call__(self, x, emb, train=False):
        h = _conv(self.features, name="conv1")(nn.silu(_norm(self.groups, "norm1")(x)))
        h = h + _dense(self.features, "emb_proj")(nn.silu(emb))[:, None, None, :]
        h = nn.silu(_norm(self.groups, "norm2")(h))
        h = nn.Dropout(self.dropout, deterministic=not train)(h)
        h = _conv(self.features, name="conv2", zero=True)(h)
        if x.shape[-1] != self.features:
            x = _conv(self.features, 1, name="skip")(x)
        return nn.with_logical_constraint(x + h, ACT)


class SelfAttention(nn.Module):
    heads: int
    groups: int

    @nn.compact
    def __call__(self, x):
        b, hh, ww, c = x.shape
        y = _norm(self.groups, "norm")(x).reshape(b, hh * ww, c)
        qkv = _dense(3 * c, "qkv")(y).reshape(b, hh * ww, 3, self.heads, c // self.heads)
        q, k, v = qkv[:, :, 0], qkv[:, :, 1], qkv[:, :, 2]
        logits = jnp.einsum("bqhd,bkhd->bhqk", q, k).astype(jnp.float32) / math.sqrt(c // self.heads)
        out = jnp.einsum("bhqk,bkhd->bqhd", jax.nn.softmax(logits, -1).astype(v.dtype), v)
        out = _dense(c, "out", zero=True)(out.reshape(b, hh * ww, c))
        return x + out.reshape(b, hh, ww, c)


class UNet(nn.Module):
    cfg: UNetConfig

    @nn.compact
    def __call__(self, x, t, cond, keep, train=False):
        cfg = self.cfg
        levels = len(cfg.channel_mults)
        if x.shape[1] % 2 ** (levels - 1) or x.shape[2] % 2 ** (levels - 1):
            raise UserError(f"unet: mel shape {x.shape[1:]} must be divisible by {2 ** (levels - 1)}")
        dim = 4 * cfg.channels
        emb = _dense(dim, "time_1")(timestep_embedding(t, cfg.channels))
        emb = _dense(dim, "time_2")(nn.silu(emb))
        null = self.param(
            "null_cond",
            nn.with_logical_partitioning(nn.initializers.normal(0.02), ("embed",)),
            (cfg.cond_dim,),
        )
        c = jnp.where(keep[:, None], cond.astype(x.dtype), null.astype(x.dtype))
        c = _dense(dim, "cond_2")(nn.silu(_dense(dim, "cond_1")(c)))
        emb = emb + c

        h = _conv(cfg.channels, name="conv_in")(x[..., None])
        skips = [h]
        for i, mult in enumerate(cfg.channel_mults):
            for j in range(cfg.res_blocks):
                h = ResBlock(cfg.channels * mult, cfg.groups, cfg.dropout, name=f"down_{i}_{j}")(
                    h, emb, train
                )
                if i in cfg.attention_levels:
                    h = SelfAttention(cfg.heads, cfg.groups, name=f"down_attn_{i}_{j}")(h)
                skips.append(h)
            if i < levels - 1:
                h = _conv(h.shape[-1], stride=2, name=f"downsample_{i}")(h)
                skips.append(h)

        mid = cfg.channels * cfg.channel_mults[-1]
        h = ResBlock(mid, cfg.groups, cfg.dropout, name="mid_1")(h, emb, train)
        h = SelfAttention(cfg.heads, cfg.groups, name="mid_attn")(h)
        h = ResBlock(mid, cfg.groups, cfg.dropout, name="mid_2")(h, emb, train)

        for i, mult in reversed(list(enumerate(cfg.channel_mults))):
            for j in range(cfg.res_blocks + 1):
                h = jnp.concatenate([h, skips.pop()], axis=-1)
                h = ResBlock(cfg.channels * mult, cfg.groups, cfg.dropout, name=f"up_{i}_{j}")(h, emb, train)
                if i in cfg.attention_levels:
                    h = SelfAttention(cfg.heads, cfg.groups, name=f"up_attn_{i}_{j}")(h)
            if i > 0:
                b, hh, ww, ch = h.shape
                h = jax.image.resize(h, (b, 2 * hh, 2 * ww, ch), "nearest")
                h = _conv(ch, name=f"upsample_{i}")(h)
        h = nn.silu(_norm(cfg.groups, "norm_out")(h))
        return _conv(1, name="conv_out", zero=True)(h)[..., 0]


def init_params(net: UNet, rng, mel_shape, rows=1):
    """Boxed parameters of `net` for mels of shape (n_mels, frames), from a zero batch of `rows`."""
    x = jnp.zeros((rows, *mel_shape), jnp.float32)
    return net.init(
        rng,
        x,
        jnp.zeros((rows,), jnp.int32),
        jnp.zeros((rows, net.cfg.cond_dim), jnp.float32),
        jnp.ones((rows,), bool),
    )["params"]


def make_apply(net: UNet):
    """apply_fn(params, x, t, cond, keep), the form diffusion.make_loss and the samplers call."""

    def apply_fn(params, x, t, cond, keep):
        return net.apply({"params": params}, x, t, cond, keep)

    return apply_fn

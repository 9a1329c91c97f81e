"""HTS-AT (Chen et al. 2022), the audio encoder of LAION-CLAP's non-fusion checkpoints, in Flax.

Front end (NumPy, as torchlibrosa computes it for laion-clap): 48 kHz mono; centred STFT (reflect
pad n_fft/2) with a periodic Hann window of 1024 every 480 samples; power spectrum; librosa's
slaney mel filterbank (64 bands, 50-14000 Hz); 10 log10(max(power, 1e-10)). A 10 s clip gives
1001 frames.

Network (the parameter tree mirrors laion's `audio_branch.*` keys): BatchNorm over mel bins
(running statistics); the [frames, 64] image resized along time to 1024 frames (bicubic,
align_corners=True, as torch's interpolate) and folded into a 256 x 256 image: four 256-frame
segments stacked along the frequency axis; a stride-4 patch conv + LayerNorm; Swin stages of
window attention with a learned relative position bias, every second block shifted by half a
window (a -100 mask between regions the roll brought together), patch merging between stages;
the final LayerNorm; the embedding is the mean over all tokens (laion's `embedding` output).

    cfg = HTSATConfig.tiny()                      # or .base() (laion's music checkpoints), .test()
    mel = log_mel(waves_48k)                      # [B, 1001, 64] float32
    emb = HTSAT(cfg).apply({"params": p}, mel)    # [B, cfg.num_features]
"""

from __future__ import annotations

import dataclasses
import functools

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

SAMPLE_RATE = 48000
N_FFT, HOP = 1024, 480
MEL_LOW, MEL_HIGH = 50.0, 14000.0
AMIN = 1e-10
CLIP_SAMPLES = 480000  # 10 s: laion's max_len
LN_EPS = 1e-5
BN_EPS = 1e-5


@dataclasses.dataclass(frozen=True)
class HTSATConfig:
    embed_dim: int = 96
    depths: tuple = (2, 2, 6, 2)
    heads: tuple = (4, 8, 16, 32)
    window: int = 8
    patch: int = 4
    spec_size: int = 256
    mel_bins: int = 64
    mlp_ratio: float = 4.0

    @property
    def num_features(self):
        return self.embed_dim * 2 ** (len(self.depths) - 1)

    @property
    def freq_ratio(self):
        return self.spec_size // self.mel_bins

    @classmethod
    def tiny(cls):
        """HTSAT-tiny: 630k(-audioset)-best.pt, 768-d embedding."""
        return cls()

    @classmethod
    def base(cls):
        """HTSAT-base: laion's music / speech checkpoints, 1024-d embedding."""
        return cls(embed_dim=128, depths=(2, 2, 12, 2))

    @classmethod
    def test(cls):
        """Tiny random-weight size for tests (same front end and image size)."""
        return cls(embed_dim=8, depths=(2, 2, 2, 2), heads=(2, 2, 4, 4))


@functools.lru_cache(maxsize=2)
def mel_filters(mel_bins=64):
    """[513, mel_bins]: librosa's slaney-normalised filters, as torchlibrosa's melW."""
    import librosa

    return librosa.filters.mel(
        sr=SAMPLE_RATE, n_fft=N_FFT, n_mels=mel_bins, fmin=MEL_LOW, fmax=MEL_HIGH
    ).T.astype(np.float64)


def log_mel(waves, mel_bins=64):
    """[B, samples] 48 kHz -> [B, 1 + samples // 480, mel_bins] float32 dB mels."""
    x = np.asarray(waves, np.float64)
    x = np.pad(x, ((0, 0), (N_FFT // 2, N_FFT // 2)), mode="reflect")
    n = 1 + (x.shape[1] - N_FFT) // HOP
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(N_FFT) / N_FFT)  # periodic Hann
    idx = np.arange(N_FFT)[None] + HOP * np.arange(n)[:, None]
    power = np.abs(np.fft.rfft(x[:, idx] * window, axis=-1)) ** 2
    return (10.0 * np.log10(np.maximum(power @ mel_filters(mel_bins), AMIN))).astype(np.float32)


@functools.lru_cache(maxsize=4)
def bicubic_matrix(n_in, n_out, a=-0.75):
    """[n_out, n_in]: torch's bicubic resize along one axis (align_corners=True, edges clamped)."""

    def near(t):  # |t| <= 1
        return ((a + 2) * t - (a + 3)) * t * t + 1

    def far(t):  # 1 < |t| < 2
        return ((a * t - 5 * a) * t + 8 * a) * t - 4 * a

    m = np.zeros((n_out, n_in))
    scale = (n_in - 1) / (n_out - 1) if n_out > 1 else 0.0
    for i in range(n_out):
        x = scale * i
        base = int(np.floor(x))
        t = x - base
        for off, w in zip((-1, 0, 1, 2), (far(t + 1), near(t), near(1 - t), far(2 - t))):
            m[i, min(max(base + off, 0), n_in - 1)] += w
    return m


def fold(mel, cfg: HTSATConfig):
    """[B, T, mel_bins] -> [B, spec, spec, 1]: resize time to spec * freq_ratio, then stack the
    freq_ratio time segments along frequency (laion's reshape_wav2img)."""
    b, t, f = mel.shape
    target = cfg.spec_size * cfg.freq_ratio
    if t > target:
        raise ValueError(f"{t} frames is more than the {target} HTSAT takes (10 s)")
    if t < target:
        mel = jnp.einsum("ot,btf->bof", jnp.asarray(bicubic_matrix(t, target), mel.dtype), mel)
    x = mel.transpose(0, 2, 1).reshape(b, f, cfg.freq_ratio, cfg.spec_size)
    return x.transpose(0, 2, 1, 3).reshape(b, cfg.freq_ratio * f, cfg.spec_size, 1)


@functools.lru_cache(maxsize=8)
def relative_index(w):
    """[w*w, w*w] index into the (2w-1)^2 bias table for each (query, key) pair in a window."""
    coords = np.stack(np.meshgrid(np.arange(w), np.arange(w), indexing="ij")).reshape(2, -1)
    rel = (coords[:, :, None] - coords[:, None, :]).transpose(1, 2, 0) + (w - 1)
    return rel[..., 0] * (2 * w - 1) + rel[..., 1]


def windows(x, w):
    """[B, H, W, C] -> [B, nW, w*w, C], windows in row-major order."""
    b, h, wd, c = x.shape
    x = x.reshape(b, h // w, w, wd // w, w, c).transpose(0, 1, 3, 2, 4, 5)
    return x.reshape(b, (h // w) * (wd // w), w * w, c)


def unwindows(x, w, h, wd):
    b, _, _, c = x.shape
    x = x.reshape(b, h // w, wd // w, w, w, c).transpose(0, 1, 3, 2, 4, 5)
    return x.reshape(b, h, wd, c)


@functools.lru_cache(maxsize=8)
def shift_mask(res, w, shift):
    """[nW, w*w, w*w] additive mask: -100 between tokens from different regions of the roll."""
    img = np.zeros((1, res, res, 1))
    cuts = (slice(0, -w), slice(-w, -shift), slice(-shift, None))
    for n, (hs, ws) in enumerate((hs, ws) for hs in cuts for ws in cuts):
        img[:, hs, ws, :] = n
    ids = windows(img, w)[0, :, :, 0]
    return np.where(ids[:, None, :] != ids[:, :, None], -100.0, 0.0).astype(np.float32)


class WindowAttention(nn.Module):
    dim: int
    heads: int
    window: int

    @nn.compact
    def __call__(self, x, mask=None):  # x [B, nW, N, C]
        b, nw, n, c = x.shape
        hd = c // self.heads
        table = self.param(
            "relative_position_bias_table",
            nn.initializers.normal(0.02),
            ((2 * self.window - 1) ** 2, self.heads),
        )
        qkv = nn.Dense(3 * c, name="qkv")(x).reshape(b, nw, n, 3, self.heads, hd)
        q, k, v = qkv[:, :, :, 0] * hd**-0.5, qkv[:, :, :, 1], qkv[:, :, :, 2]
        logits = jnp.einsum("bwqhd,bwkhd->bwhqk", q, k)
        logits = logits + table[relative_index(self.window)].transpose(2, 0, 1)
        if mask is not None:
            logits = logits + mask[None, :, None]
        out = jnp.einsum("bwhqk,bwkhd->bwqhd", jax.nn.softmax(logits, axis=-1), v)
        return nn.Dense(c, name="proj")(out.reshape(b, nw, n, c))


class Mlp(nn.Module):
    dim: int
    hidden: int

    @nn.compact
    def __call__(self, x):
        return nn.Dense(self.dim, name="fc2")(
            jax.nn.gelu(nn.Dense(self.hidden, name="fc1")(x), approximate=False)
        )


class SwinBlock(nn.Module):
    dim: int
    heads: int
    res: int
    window: int
    shift: int
    mlp_ratio: float

    @nn.compact
    def __call__(self, x):  # [B, res*res, C]
        w, shift = self.window, self.shift
        if self.res <= w:  # one window covers the map: no partition, no shift
            w, shift = self.res, 0
        b, _, c = x.shape
        h = nn.LayerNorm(LN_EPS, name="norm1")(x).reshape(b, self.res, self.res, c)
        if shift:
            h = jnp.roll(h, (-shift, -shift), axis=(1, 2))
        mask = jnp.asarray(shift_mask(self.res, w, shift)) if shift else None
        h = WindowAttention(self.dim, self.heads, w, name="attn")(windows(h, w), mask)
        h = unwindows(h, w, self.res, self.res)
        if shift:
            h = jnp.roll(h, (shift, shift), axis=(1, 2))
        x = x + h.reshape(b, -1, c)
        return x + Mlp(c, int(c * self.mlp_ratio), name="mlp")(nn.LayerNorm(LN_EPS, name="norm2")(x))


class PatchMerging(nn.Module):
    res: int

    @nn.compact
    def __call__(self, x):
        b, _, c = x.shape
        x = x.reshape(b, self.res, self.res, c)
        x = jnp.concatenate([x[:, 0::2, 0::2], x[:, 1::2, 0::2], x[:, 0::2, 1::2], x[:, 1::2, 1::2]], -1)
        x = nn.LayerNorm(LN_EPS, name="norm")(x.reshape(b, -1, 4 * c))
        return nn.Dense(2 * c, use_bias=False, name="reduction")(x)


class Stage(nn.Module):
    dim: int
    depth: int
    heads: int
    res: int
    window: int
    mlp_ratio: float
    merge: bool

    @nn.compact
    def __call__(self, x):
        for i in range(self.depth):
            shift = 0 if i % 2 == 0 else self.window // 2
            x = SwinBlock(
                self.dim, self.heads, self.res, self.window, shift, self.mlp_ratio, name=f"blocks_{i}"
            )(x)
        return PatchMerging(self.res, name="downsample")(x) if self.merge else x


class BatchNormBins(nn.Module):
    """Inference BatchNorm over the mel-bin axis, with torch's parameter names."""

    features: int

    @nn.compact
    def __call__(self, x):
        weight = self.param("weight", nn.initializers.ones, (self.features,))
        bias = self.param("bias", nn.initializers.zeros, (self.features,))
        mean = self.param("running_mean", nn.initializers.zeros, (self.features,))
        var = self.param("running_var", nn.initializers.ones, (self.features,))
        return (x - mean) / jnp.sqrt(var + BN_EPS) * weight + bias


class PatchEmbed(nn.Module):
    dim: int
    patch: int

    @nn.compact
    def __call__(self, x):
        p = self.patch
        x = nn.Conv(self.dim, (p, p), strides=(p, p), padding="VALID", name="proj")(x)
        return nn.LayerNorm(LN_EPS, name="norm")(x.reshape(x.shape[0], -1, self.dim))


class HTSAT(nn.Module):
    """[B, T <= 1024, mel_bins] dB mels -> [B, num_features] pooled embedding (pool=False: the
    final-norm tokens [B, (spec / patch / 8)^2, num_features] it averages)."""

    cfg: HTSATConfig

    @nn.compact
    def __call__(self, mel, pool=True):
        cfg = self.cfg
        x = fold(BatchNormBins(cfg.mel_bins, name="bn0")(mel), cfg)
        x = PatchEmbed(cfg.embed_dim, cfg.patch, name="patch_embed")(x)
        grid = cfg.spec_size // cfg.patch
        last = len(cfg.depths) - 1
        for i, (depth, heads) in enumerate(zip(cfg.depths, cfg.heads)):
            x = Stage(
                cfg.embed_dim * 2**i,
                depth,
                heads,
                grid // 2**i,
                cfg.window,
                cfg.mlp_ratio,
                i < last,
                name=f"layers_{i}",
            )(x)
        x = nn.LayerNorm(LN_EPS, name="norm")(x)
        return x.mean(axis=1) if pool else x

"""The vocoder's log-mel front end in JAX (differentiable: the mel loss of vocoder training),
numerically the NumPy music_codecs.mel.wave_to_mel and the BigVGAN/HiFi-GAN training mel
(reference clipsonic.md §4.3): reflect-pad (n_fft - hop) / 2 each side, `center=False` STFT with
a periodic Hann window, magnitude sqrt(re² + im² + 1e-9), slaney filterbank, log(clamp(x, floor)).

    logmel = log_mel(wave, cfg)     # wave [B, T] -> [B, T // hop, n_mels] (channels last)
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from music_codecs.mel import MelConfig, mel_basis


def _window(cfg: MelConfig):
    w = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(cfg.win_length) / cfg.win_length)
    left = (cfg.n_fft - cfg.win_length) // 2  # a short window sits in the frame's centre
    return np.pad(w, (left, cfg.n_fft - cfg.win_length - left)).astype(np.float32)


def magnitude(wave, cfg: MelConfig):
    """|STFT| [B, frames, 1 + n_fft // 2]."""
    x = jnp.pad(wave, ((0, 0), (cfg.pad, cfg.pad)), mode="reflect")
    n = 1 + (x.shape[1] - cfg.n_fft) // cfg.hop_length
    idx = np.arange(cfg.n_fft)[None] + cfg.hop_length * np.arange(n)[:, None]
    spec = jnp.fft.rfft(x[:, idx] * _window(cfg), axis=-1)
    return jnp.sqrt(spec.real**2 + spec.imag**2 + 1e-9)


def log_mel(wave, cfg: MelConfig = MelConfig()):
    mel = magnitude(wave, cfg) @ jnp.asarray(mel_basis(cfg).T)
    return jnp.log(jnp.maximum(mel, cfg.log_floor))

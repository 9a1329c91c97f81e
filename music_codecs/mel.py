"""Waveform <-> log-mel spectrogram (NumPy + librosa), with Griffin-Lim as the default vocoder.

Project defaults (reference clipsonic.md §1.5; the CLIPSonic paper's own settings are unknown):
16 kHz mono, n_fft 1024 / win 1024 / hop 256, Hann window, 80 slaney mel bands (64 also common),
magnitude (power 1), log(clamp(mel, 1e-5)) as in BigVGAN. The waveform is reflect-padded by
(n_fft - hop) / 2 on each side and analysed with `center=False`, so 65,536 samples (4.096 s)
give exactly 256 frames and frames = samples / hop for any multiple of hop.

    cfg = MelConfig()                                  # or MelConfig(n_mels=64)
    logmel = wave_to_mel(wave, cfg)                    # float32 [n_mels, frames]
    wave = mel_to_wave(logmel, cfg, n_iter=32)         # NNLS + Griffin-Lim, frames * hop samples
    stats = MelStats.fit([logmel, ...]); x = stats.normalize(logmel)   # ~[-1, 1] for diffusion
"""

from __future__ import annotations

import dataclasses
import functools
import json

import numpy as np

from music_codecs.errors import UserError


@dataclasses.dataclass(frozen=True)
class MelConfig:
    sample_rate: int = 16000
    n_fft: int = 1024
    win_length: int = 1024
    hop_length: int = 256
    n_mels: int = 80
    fmin: float = 0.0
    fmax: float | None = None  # None: sample_rate / 2
    log_floor: float = 1e-5
    clip_samples: int = 65536  # 4.096 s at 16 kHz -> 256 frames

    def __post_init__(self):
        if (self.n_fft - self.hop_length) % 2:
            raise UserError(f"n_fft - hop_length = {self.n_fft - self.hop_length} must be even")
        if self.clip_samples % self.hop_length:
            raise UserError(
                f"clip_samples={self.clip_samples} must be a multiple of hop_length={self.hop_length}"
            )

    @property
    def pad(self):
        return (self.n_fft - self.hop_length) // 2

    @property
    def clip_frames(self):
        return self.clip_samples // self.hop_length


@functools.lru_cache(maxsize=8)
def mel_basis(cfg: MelConfig):
    """[n_mels, 1 + n_fft // 2] slaney-normalised librosa filterbank."""
    import librosa

    return librosa.filters.mel(
        sr=cfg.sample_rate,
        n_fft=cfg.n_fft,
        n_mels=cfg.n_mels,
        fmin=cfg.fmin,
        fmax=cfg.fmax,
        norm="slaney",
        htk=False,
    ).astype(np.float32)


def stft_magnitude(wave, cfg: MelConfig):
    """|STFT| [1 + n_fft // 2, frames] of the reflect-padded wave (frames = len // hop)."""
    import librosa

    wave = np.asarray(wave, np.float32)
    if wave.ndim != 1 or wave.size < cfg.hop_length:
        raise UserError(
            f"expected a mono waveform of at least {cfg.hop_length} samples, got shape {wave.shape}"
        )
    if not np.all(np.isfinite(wave)):
        raise UserError("waveform contains NaN or infinite samples")
    padded = np.pad(wave, (cfg.pad, cfg.pad), mode="reflect")
    spec = librosa.stft(
        padded,
        n_fft=cfg.n_fft,
        hop_length=cfg.hop_length,
        win_length=cfg.win_length,
        window="hann",
        center=False,
    )
    return np.sqrt(spec.real**2 + spec.imag**2 + 1e-9).astype(np.float32)


def wave_to_mel(wave, cfg: MelConfig = MelConfig()):
    """Log-mel float32 [n_mels, len(wave) // hop]."""
    mel = mel_basis(cfg) @ stft_magnitude(wave, cfg)
    return np.log(np.maximum(mel, cfg.log_floor)).astype(np.float32)


def griffin_lim(magnitude, cfg: MelConfig, n_iter=32, seed=0):
    """Phase for a linear magnitude [bins, frames] by Griffin-Lim (fast variant, momentum 0.99).

    Works in the padded domain with `center=False`, then trims the padding, so the output has
    frames * hop samples, aligned with what `stft_magnitude` analysed.
    """
    import librosa

    frames = magnitude.shape[1]
    length = cfg.n_fft + cfg.hop_length * (frames - 1)
    wave = librosa.griffinlim(
        magnitude,
        n_iter=n_iter,
        hop_length=cfg.hop_length,
        win_length=cfg.win_length,
        n_fft=cfg.n_fft,
        window="hann",
        center=False,
        length=length,
        momentum=0.99,
        init="random",
        random_state=seed,
    )
    return wave[cfg.pad : cfg.pad + frames * cfg.hop_length].astype(np.float32)


def mel_to_wave(logmel, cfg: MelConfig = MelConfig(), n_iter=32, seed=0):
    """Griffin-Lim vocoder: log-mel [n_mels, frames] -> waveform [frames * hop], in [-1, 1]."""
    import librosa

    logmel = np.asarray(logmel, np.float32)
    if logmel.ndim != 2 or logmel.shape[0] != cfg.n_mels:
        raise UserError(f"expected a log-mel of shape [{cfg.n_mels}, frames], got {logmel.shape}")
    if not np.all(np.isfinite(logmel)):
        raise UserError("log-mel contains NaN or infinite values")
    # Non-negative least squares back to linear frequency bins, then phase by Griffin-Lim.
    magnitude = librosa.util.nnls(mel_basis(cfg), np.exp(logmel))
    wave = griffin_lim(magnitude, cfg, n_iter=n_iter, seed=seed)
    return np.clip(wave, -1.0, 1.0)


def spectral_convergence(reference, estimate):
    """||S_ref - S_est||_F / ||S_ref||_F on magnitudes (0 is perfect)."""
    reference, estimate = np.asarray(reference), np.asarray(estimate)
    return float(np.linalg.norm(reference - estimate) / max(np.linalg.norm(reference), 1e-12))


def fit_clip(wave, cfg: MelConfig = MelConfig(), start=0):
    """Exactly cfg.clip_samples from `start`, zero-padded at the end when the wave is short."""
    wave = np.asarray(wave, np.float32)[start : start + cfg.clip_samples]
    return np.pad(wave, (0, cfg.clip_samples - wave.size))


@dataclasses.dataclass(frozen=True)
class MelStats:
    """Dataset range of log-mel values; maps [low, high] to [-1, 1] (and back)."""

    low: float
    high: float

    @classmethod
    def fit(cls, logmels, quantile=0.0):
        values = np.concatenate([np.asarray(m, np.float32).ravel() for m in logmels])
        if values.size == 0:
            raise UserError("cannot fit mel statistics on an empty dataset")
        low, high = np.quantile(values, [quantile, 1.0 - quantile])
        if not high > low:
            high = low + 1.0
        return cls(float(low), float(high))

    def normalize(self, logmel):
        return (2.0 * (np.asarray(logmel) - self.low) / (self.high - self.low) - 1.0).astype(np.float32)

    def denormalize(self, x):
        return ((np.asarray(x, np.float32) + 1.0) * 0.5 * (self.high - self.low) + self.low).astype(
            np.float32
        )

    def to_json(self):
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, text):
        try:
            d = json.loads(text)
            return cls(float(d["low"]), float(d["high"]))
        except (ValueError, KeyError, TypeError) as err:
            raise UserError(f"bad mel statistics: {err}") from err

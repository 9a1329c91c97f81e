"""music_codecs.mel: log-mel shapes, normalisation round trip, Griffin-Lim quality floor."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from music_codecs.errors import UserError
from music_codecs.mel import (
    MelConfig,
    MelStats,
    griffin_lim,
    mel_to_wave,
    spectral_convergence,
    stft_magnitude,
    wave_to_mel,
)

CFG = MelConfig()


def tone(freq, n=CFG.clip_samples, sr=CFG.sample_rate):
    t = np.arange(n) / sr
    return (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def test_default_clip_gives_256_frames():
    m = wave_to_mel(tone(440.0))
    assert m.shape == (80, 256) and m.dtype == np.float32
    assert wave_to_mel(tone(440.0), MelConfig(n_mels=64)).shape == (64, 256)
    # The tone's energy sits in the mel band whose centre is nearest 440 Hz.
    import librosa

    centres = librosa.mel_frequencies(82, fmax=8000)[1:-1]
    assert abs(int(np.argmax(m.mean(1))) - int(np.argmin(abs(centres - 440)))) <= 1


@settings(max_examples=20)
@given(frames=st.integers(1, 40), hop=st.sampled_from([128, 256]))
def test_frames_equal_samples_over_hop(frames, hop):
    cfg = MelConfig(hop_length=hop, clip_samples=hop * 4)
    wave = np.random.default_rng(frames).normal(size=frames * hop).astype(np.float32) * 0.1
    m = wave_to_mel(wave, cfg)
    assert m.shape == (80, frames)
    assert m.min() >= np.log(cfg.log_floor) - 1e-6


@settings(max_examples=30)
@given(st.lists(st.floats(-11.5, 3.0), min_size=2, max_size=50))
def test_stats_round_trip(values):
    x = np.asarray(values, np.float32)
    stats = MelStats.fit([x])
    y = stats.normalize(x)
    assert y.min() >= -1 - 1e-5 and y.max() <= 1 + 1e-5
    np.testing.assert_allclose(stats.denormalize(y), x, atol=1e-4 * (1 + abs(x).max()))
    assert MelStats.from_json(stats.to_json()) == stats


def test_griffin_lim_quality_floor():
    wave = tone(440.0) + 0.5 * tone(660.0)
    target = stft_magnitude(wave, CFG)
    # Griffin-Lim from the true magnitude recovers it closely; random phase does not.
    gl = griffin_lim(target, CFG, n_iter=32)
    assert gl.shape == wave.shape
    sc_gl = spectral_convergence(target, stft_magnitude(gl, CFG))
    noise_phase = np.fft.irfft(
        np.abs(np.fft.rfft(wave)) * np.exp(2j * np.pi * np.random.default_rng(0).random(wave.size // 2 + 1)),
        n=wave.size,
    )
    sc_rand = spectral_convergence(target, stft_magnitude(noise_phase.astype(np.float32), CFG))
    assert sc_gl < 0.15 < sc_rand
    # The full vocoder (mel -> NNLS -> Griffin-Lim) keeps the mel spectrogram close.
    logmel = wave_to_mel(wave)
    back = mel_to_wave(logmel, n_iter=32)
    assert back.shape == wave.shape and np.abs(back).max() <= 1.0
    assert spectral_convergence(np.exp(logmel), np.exp(wave_to_mel(back))) < 0.25
    assert spectral_convergence(target, stft_magnitude(back, CFG)) < 0.5


def test_bad_input_is_user_error():
    with pytest.raises(UserError):
        wave_to_mel(np.full(1024, np.nan, np.float32))
    with pytest.raises(UserError):
        mel_to_wave(np.zeros((64, 10), np.float32))  # wrong band count for the default config
    with pytest.raises(UserError):
        MelConfig(clip_samples=1000)

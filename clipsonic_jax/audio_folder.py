"""Mono waveforms from a folder of audio files or videos (their first audio track), for vocoder
training and FAD. Unreadable files are skipped, counted and named, never fatal.

    files = list_audio(DIR)                  # sorted, recursive
    waves, skipped = read_waves(files, 16000)
"""

from __future__ import annotations

import os

import numpy as np

from music_codecs.errors import UserError

AUDIO_EXTS = (".wav", ".flac", ".ogg", ".aiff", ".aif")
VIDEO_EXTS = (".mp4", ".m4a", ".mkv", ".webm", ".mov", ".avi", ".mp3")


def list_audio(directory):
    if not os.path.isdir(directory):
        raise UserError(f"{directory}: no such folder of audio")
    out = []
    for root, dirs, files in os.walk(directory):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))  # skip caches such as .clipsonic-cache
        out += [os.path.join(root, f) for f in files if f.lower().endswith(AUDIO_EXTS + VIDEO_EXTS)]
    if not out:
        raise UserError(f"{directory}: no audio or video files ({', '.join(AUDIO_EXTS + VIDEO_EXTS)})")
    return sorted(out)


def read_wave(path, sample_rate):
    """float32 mono wave at sample_rate."""
    if path.lower().endswith(AUDIO_EXTS):
        import soundfile as sf

        try:
            wave, sr = sf.read(path, dtype="float32", always_2d=True)
        except (RuntimeError, sf.LibsndfileError) as err:
            raise UserError(f"{path}: cannot read audio: {err}") from err
        wave = wave.mean(axis=1)
        if sr != sample_rate:
            import librosa

            wave = librosa.resample(wave, orig_sr=sr, target_sr=sample_rate)
        return wave.astype(np.float32)
    from clipsonic_jax.video import read_audio

    return read_audio(path, sample_rate)


def read_waves(files, sample_rate, progress=False):
    """(list of waves, [(path, reason), ...] skipped)."""
    items = files
    if progress:
        from tqdm import tqdm

        items = tqdm(files, desc="reading audio", unit="file")
    waves, skipped = [], []
    for f in items:
        try:
            w = read_wave(f, sample_rate)
            if not w.size or not np.all(np.isfinite(w)):
                raise UserError(f"{f}: empty or non-finite audio")
            waves.append(w)
        except UserError as err:
            skipped.append((f, str(err)))
    return waves, skipped

"""Synthetic clips written as real MP4s and read back through PyAV; frame/mel pairs, the CLIP
embedding cache and the grain pipeline."""

import os

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from clipsonic_jax import data, synthetic, video
from model_kit import clip_load
from music_codecs.errors import MusicFileError
from music_codecs.mel import MelConfig

MEL = MelConfig(n_mels=32, clip_samples=16384)


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    d = tmp_path_factory.mktemp("syn")
    rows = synthetic.write_dataset(d, n_clips=6, seed=3, seconds=2.0)
    (d / "broken.mp4").write_bytes(b"not a video at all")
    return d, rows


def test_synthetic_clips_read_back(clips):
    d, rows = clips
    for name, label in rows:
        path = d / name
        info = video.probe(path)
        assert info.has_audio and (info.width, info.height) == (64, 64) and abs(info.duration - 2.0) < 0.1
        frame = video.read_frames(path, [1.0])[0]
        rgb = dict((n, c) for n, c, _ in synthetic.CLASSES)[label]
        # The shape's colour is on screen (H.264 changes it by a few levels only).
        dist = np.abs(frame.reshape(-1, 3).astype(int) - np.array(rgb)).sum(1)
        assert (dist < 40).sum() > 100
        wave = video.read_audio(path, 16000)
        assert 2.0 * 16000 <= wave.size <= 2.0 * 16000 + 2048  # AAC adds priming samples
        spec = np.abs(np.fft.rfft(wave[4000:20000]))
        peak = np.argmax(spec) * 16000 / 16000
        assert abs(peak - synthetic.class_frequency(label)) < 3.0
    with pytest.raises(MusicFileError):
        video.probe(d / "broken.mp4")


def test_read_frames_picks_the_frame_on_screen(tmp_path):
    frames = np.zeros((4, 16, 16, 3), np.uint8)
    for i in range(4):
        frames[i] = 60 * i + 20
    video.write_video(tmp_path / "v.mp4", frames, fps=2)
    got = video.read_frames(tmp_path / "v.mp4", [1.6, 0.0, 0.7, 99.0])
    np.testing.assert_allclose(got.reshape(4, -1).mean(1), [200, 20, 80, 200], atol=4)


@given(st.floats(0.1, 30.0))
def test_centre_time_is_a_whole_second_inside(duration):
    t = data.centre_time(duration)
    assert t == int(t) and 0 <= t < max(duration, 1.0) and abs(t - duration / 2) <= 1.0


@given(st.integers(100, 40000), st.floats(0, 3))
def test_audio_window_is_clip_long_and_inside(n, t):
    wave = np.arange(1, n + 1, dtype=np.float32)
    w = data.audio_window(wave, t, MEL)
    assert w.shape == (MEL.clip_samples,)
    nz = w[w != 0]
    assert np.all(np.diff(nz) == 1)  # one contiguous piece of the wave
    if n >= MEL.clip_samples:
        assert nz.size == MEL.clip_samples


def test_prepare_caches_pairs_and_skips_bad_videos(clips, tmp_path):
    d, rows = clips
    clip = clip_load.load_clip(clip_load.write_tiny_clip(tmp_path / "clip") and tmp_path / "clip")
    cache = data.prepare(d, tmp_path / "cache", clip, MEL, progress=False)
    assert cache.names == [n for n, _ in rows] and cache.labels == [lab for _, lab in rows]
    assert [s[0] for s in cache.skipped] == ["broken.mp4"]
    assert cache.mels.shape == (6, 32, 64) and cache.embeddings.shape == (6, 16)
    np.testing.assert_allclose(np.linalg.norm(cache.embeddings, axis=1), 1.0, rtol=1e-5)
    # Embeddings are those of the frame at the cached time.
    frame = video.read_frames(d / rows[2][0], [cache.times[2]])
    np.testing.assert_allclose(clip.embed_images(frame)[0], cache.embeddings[2], atol=1e-5)
    mtime = os.stat(tmp_path / "cache" / "pairs.npz").st_mtime_ns
    again = data.prepare(d, tmp_path / "cache", clip, MEL, progress=False)
    assert os.stat(tmp_path / "cache" / "pairs.npz").st_mtime_ns == mtime  # served from the cache
    np.testing.assert_array_equal(again.mels, cache.mels)

    it = iter(data.make_dataset(cache.mels, cache.embeddings, 4, seed=1).to_iter_dataset())
    first = next(it)
    assert first["mel"].shape == (4, 32, 64) and first["cond"].shape == (4, 16)
    state = it.get_state()
    b2 = next(it)
    it.set_state(state)
    np.testing.assert_array_equal(next(it)["mel"], b2["mel"])
    evals = list(data.make_dataset(cache.mels, cache.embeddings, 4, train=False))
    assert len(evals) == 1 and np.array_equal(evals[0]["mel"], cache.mels[:4])


@pytest.mark.parametrize("processes", [2, 4])
def test_processes_read_their_rows_of_the_one_process_batches(processes):
    # Rows i*B/P:(i+1)*B/P of the same global batch on process i, for training and evaluation.
    mels = np.arange(10 * 2 * 3, dtype=np.float32).reshape(10, 2, 3)
    conds = np.arange(10 * 4, dtype=np.float32).reshape(10, 4)
    for train in (True, False):
        whole = iter(data.make_dataset(mels, conds, 4, train=train, seed=5))
        parts = [
            iter(
                data.make_dataset(
                    mels, conds, 4, train=train, seed=5, process_index=i, process_count=processes
                )
            )
            for i in range(processes)
        ]
        for _ in range(5 if train else 2):
            batch = next(whole)
            shares = [next(p) for p in parts]
            assert all(s["mel"].shape == (4 // processes, 2, 3) for s in shares)
            for key in ("mel", "cond"):
                np.testing.assert_array_equal(np.concatenate([s[key] for s in shares]), batch[key])
        if not train:
            assert next(whole, None) is None and all(next(p, None) is None for p in parts)

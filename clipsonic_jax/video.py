"""Video files through PyAV: RGB frames at chosen times and the audio track as mono float32.

    info = probe(path)                         # VideoInfo(duration, fps, width, height, has_audio)
    frames = read_frames(path, [2.0])          # uint8 [len(times), H, W, 3], the frame shown at t
    wave = read_audio(path, 16000)             # float32 [samples], mono, resampled
    write_video(path, frames, fps, wave, sr)   # H.264 + AAC in MP4 (used by the synthetic set)

A file PyAV cannot open or decode raises MusicFileError(path, reason).
"""

from __future__ import annotations

import dataclasses
from fractions import Fraction

import numpy as np

from music_codecs.atomic import atomic_path
from music_codecs.errors import MusicFileError


@dataclasses.dataclass(frozen=True)
class VideoInfo:
    duration: float
    fps: float
    width: int
    height: int
    has_audio: bool


def _open(path):
    import av

    try:
        return av.open(str(path))
    except (av.error.FFmpegError, OSError) as err:
        raise MusicFileError(path, f"cannot open video: {err}") from err


def probe(path):
    with _open(path) as box:
        if not box.streams.video:
            raise MusicFileError(path, "no video stream")
        v = box.streams.video[0]
        duration = float(box.duration / 1e6) if box.duration else float(v.duration * v.time_base)
        return VideoInfo(
            duration,
            float(v.average_rate or 0),
            v.codec_context.width,
            v.codec_context.height,
            bool(box.streams.audio),
        )


def read_frames(path, times):
    """The frame on screen at each time (seconds): the last frame starting at or before it."""
    import av

    times = np.asarray(times, np.float64)
    order = np.argsort(times)
    out = [None] * len(times)
    k, last = 0, None
    with _open(path) as box:
        if not box.streams.video:
            raise MusicFileError(path, "no video stream")
        try:
            for frame in box.decode(video=0):
                t = float(frame.time or 0.0)
                while k < len(order) and t > times[order[k]] + 1e-6:
                    out[order[k]] = last if last is not None else frame.to_ndarray(format="rgb24")
                    k += 1
                if k == len(order):
                    break
                last = frame.to_ndarray(format="rgb24")
        except av.error.FFmpegError as err:
            raise MusicFileError(path, f"cannot decode video: {err}") from err
    if last is None and k == 0:
        raise MusicFileError(path, "video has no frames")
    for i in order[k:]:
        out[i] = last
    return np.stack(out)


def read_audio(path, sample_rate=16000):
    """The first audio track, downmixed to mono and resampled, as float32 in [-1, 1]."""
    import av

    chunks = []
    with _open(path) as box:
        if not box.streams.audio:
            raise MusicFileError(path, "no audio stream")
        resampler = av.AudioResampler(format="flt", layout="mono", rate=sample_rate)
        try:
            for frame in box.decode(audio=0):
                for out in resampler.resample(frame):
                    chunks.append(out.to_ndarray().reshape(-1))
            for out in resampler.resample(None):
                chunks.append(out.to_ndarray().reshape(-1))
        except av.error.FFmpegError as err:
            raise MusicFileError(path, f"cannot decode audio: {err}") from err
    if not chunks:
        raise MusicFileError(path, "audio track is empty")
    return np.concatenate(chunks).astype(np.float32)


def write_video(path, frames, fps, wave=None, sample_rate=16000, crf=18):
    """Write uint8 frames [T, H, W, 3] (H, W even) and an optional mono wave to an MP4."""
    import av

    frames = np.asarray(frames, np.uint8)
    with atomic_path(path) as tmp, av.open(str(tmp), "w") as box:
        v = box.add_stream("libx264", rate=Fraction(fps).limit_denominator(1000))
        v.width, v.height, v.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
        v.options = {"crf": str(crf)}
        a = None
        if wave is not None:
            a = box.add_stream("aac", rate=sample_rate, layout="mono")
            a.bit_rate = 128000
        for img in frames:
            box.mux(v.encode(av.VideoFrame.from_ndarray(img, format="rgb24")))
        box.mux(v.encode(None))
        if a is not None:
            pcm = np.asarray(wave, np.float32).reshape(1, -1)
            step = 1024
            for i in range(0, pcm.shape[1], step):
                chunk = av.AudioFrame.from_ndarray(
                    np.ascontiguousarray(pcm[:, i : i + step]), format="flt", layout="mono"
                )
                chunk.sample_rate = sample_rate
                chunk.pts = i
                box.mux(a.encode(chunk))
            box.mux(a.encode(None))

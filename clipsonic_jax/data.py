"""Training pairs from a folder of videos: (a frame near the clip's centre, the clip's log-mel).

Following CLIPSep's pipeline (spec §2): frames are considered at 1 fps and the one nearest the
video's centre is taken; the audio (16 kHz mono) is cut around that frame's time, clip_samples long,
shifted inside the video when near an edge and zero-padded when the video is short. The frame's
CLIP image embedding (L2-normalised) is precomputed once and cached on disk with the mels:

    cache = prepare(video_dir, cache_dir, clip, mel_cfg)   # -> Cache(mels, embeddings, names, ...)
    ds = make_dataset(mels_normalised, embeddings, batch_size, seed=0)    # grain MapDataset
    it = iter(ds.to_iter_dataset())     # get_state()/set_state() for train_kit checkpoints

The cache (pairs.npz + meta.json) is reused when the same videos, mel settings and CLIP files are
given again. Unreadable videos are skipped, counted and named.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os

import numpy as np

from clipsonic_jax import video
from clipsonic_jax.synthetic import read_labels
from music_codecs.errors import MusicFileError, UserError
from music_codecs.mel import MelConfig, fit_clip, wave_to_mel

VIDEO_EXTS = (".mp4", ".mkv", ".webm", ".avi", ".mov")


@dataclasses.dataclass
class Cache:
    mels: np.ndarray          # float32 [N, n_mels, frames], log-mel
    embeddings: np.ndarray    # float32 [N, D], L2-normalised CLIP image embeddings
    names: list               # video file names
    labels: list              # label per video ("" when unknown)
    times: np.ndarray         # float32 [N], the frame time (seconds)
    skipped: list             # (name, reason) of videos that could not be used


def list_videos(data_dir):
    if not os.path.isdir(data_dir):
        raise UserError(f"{data_dir}: video folder not found")
    return sorted(f for f in os.listdir(data_dir) if f.lower().endswith(VIDEO_EXTS))


def centre_time(duration):
    """The 1-fps frame time nearest the video's centre (CLIPSep samples frames at 1 fps)."""
    return float(min(np.round(duration / 2.0), max(np.floor(duration - 1e-3), 0.0)))


def audio_window(wave, t, cfg: MelConfig):
    """clip_samples of `wave` centred at time t, moved inside the wave at its edges."""
    start = int(round(t * cfg.sample_rate)) - cfg.clip_samples // 2
    start = max(0, min(start, wave.size - cfg.clip_samples))
    return fit_clip(wave, cfg, start)


def load_pair(path, cfg: MelConfig):
    """(frame uint8 [H, W, 3], log-mel [n_mels, frames], time) for one video."""
    info = video.probe(path)
    if not info.has_audio:
        raise MusicFileError(path, "no audio track")
    t = centre_time(info.duration)
    frame = video.read_frames(path, [t])[0]
    wave = video.read_audio(path, cfg.sample_rate)
    if wave.size == 0 or not np.any(wave):
        raise MusicFileError(path, "audio track is silent")
    return frame, wave_to_mel(audio_window(wave, t, cfg), cfg), t


def _fingerprint(data_dir, names, cfg, clip_dir):
    h = hashlib.sha1(json.dumps(dataclasses.asdict(cfg), sort_keys=True).encode())
    for n in names:
        st = os.stat(os.path.join(data_dir, n))
        h.update(f"{n}:{st.st_size}:{int(st.st_mtime)}".encode())
    for f in ("config.json", "model.safetensors"):
        p = os.path.join(clip_dir, f)
        if os.path.exists(p):
            st = os.stat(p)
            h.update(f"{f}:{st.st_size}:{int(st.st_mtime)}".encode())
    return h.hexdigest()


def prepare(data_dir, cache_dir, clip, cfg: MelConfig = MelConfig(), progress=True):
    """Mels and CLIP image embeddings for every video, cached under cache_dir."""
    names = list_videos(data_dir)
    if not names:
        raise UserError(f"{data_dir}: no video files ({', '.join(VIDEO_EXTS)})")
    key = _fingerprint(data_dir, names, cfg, clip.directory)
    meta_path, arr_path = os.path.join(cache_dir, "meta.json"), os.path.join(cache_dir, "pairs.npz")
    if os.path.exists(meta_path) and os.path.exists(arr_path):
        with open(meta_path) as f:
            meta = json.load(f)
        if meta.get("fingerprint") == key:
            z = np.load(arr_path)
            return Cache(z["mels"], z["embeddings"], meta["names"], meta["labels"], z["times"],
                         [tuple(s) for s in meta["skipped"]])
    labels_of = read_labels(data_dir)
    frames, mels, kept, times, skipped = [], [], [], [], []
    items = names
    if progress:
        from tqdm import tqdm
        items = tqdm(names, desc="videos -> (frame, mel)", unit="video")
    for name in items:
        try:
            frame, mel, t = load_pair(os.path.join(data_dir, name), cfg)
        except MusicFileError as err:
            skipped.append((name, err.reason))
            continue
        frames.append(frame), mels.append(mel), kept.append(name), times.append(t)
    if skipped:
        print(f"skipped {len(skipped)} of {len(names)} videos: " +
              "; ".join(f"{n} ({r})" for n, r in skipped[:5]) + (" ..." if len(skipped) > 5 else ""))
    if not kept:
        raise UserError(f"{data_dir}: none of the {len(names)} videos could be read")
    emb = clip.embed_images(frames)
    cache = Cache(np.stack(mels), emb.astype(np.float32), kept,
                  [labels_of.get(n, "") for n in kept], np.asarray(times, np.float32), skipped)
    os.makedirs(cache_dir, exist_ok=True)
    np.savez(arr_path, mels=cache.mels, embeddings=cache.embeddings, times=cache.times)
    with open(meta_path, "w") as f:
        json.dump({"fingerprint": key, "names": kept, "labels": cache.labels,
                   "skipped": skipped, "mel": dataclasses.asdict(cfg)}, f)
    return cache


class _Pairs:
    """Random access to (normalised mel, embedding) rows: a grain data source."""

    def __init__(self, mels, embeddings):
        self.mels, self.embeddings = mels, embeddings

    def __len__(self):
        return len(self.mels)

    def __getitem__(self, i):
        return {"mel": self.mels[i], "cond": self.embeddings[i]}


def make_dataset(mels, embeddings, batch_size, *, train=True, seed=0, shard_index=0,
                 shard_count=1):
    """grain MapDataset of {"mel": [B, M, T], "cond": [B, D]} batches.

    Training shuffles (anew each epoch), repeats forever and drops the partial batch; evaluation
    is one ordered epoch (static shapes: the partial batch is dropped there too). Each host
    reads its own slice.
    """
    import grain
    ds = grain.MapDataset.source(_Pairs(mels, embeddings))[shard_index::shard_count]
    if len(ds) == 0:
        raise UserError("no training pairs for this process")
    if train:
        if len(ds) < batch_size:
            ds = ds.repeat(int(np.ceil(batch_size / len(ds))))
        ds = ds.shuffle(seed=seed).repeat(None)
    return ds.batch(batch_size, drop_remainder=True)

"""Training pairs from a folder of videos: (a frame near the clip's centre, the clip's log-mel).

Following CLIPSep's pipeline (reference §2): frames are considered at 1 fps and the one nearest the
video's centre is taken; the audio (16 kHz mono) is cut around that frame's time, clip_samples long,
shifted inside the video when near an edge and zero-padded when the video is short. The frame's
CLIP image embedding (L2-normalised) is precomputed once and cached on disk with the mels:

    cache = prepare(video_dir, cache_dir, clip, mel_cfg)   # -> Cache(mels, embeddings, names, ...)
    train_idx, eval_idx = split(len(cache.names), every_nth)
    mean, scale = cond_transform(cache.embeddings[train_idx], enabled=True)
    ds = make_dataset(mels_normalised, conds, global_batch, seed=0, process_index=i, process_count=n)
    it = iter(ds.to_iter_dataset())     # get_state()/set_state() for train_kit checkpoints
    ensure_demo_inputs(data_cfg, sample_rate, seed)        # tiny CLIP / synthetic clips when asked
    build_in_place(folder, build)       # build(private folder), renamed into place: race-free

The cache (pairs.npz + meta.json) is reused when the same videos, mel settings and CLIP files are
given again; it is written atomically, so processes of one job may build it side by side.
Unreadable videos are skipped, counted and named.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil

import numpy as np

from clipsonic_jax import video
from clipsonic_jax.synthetic import read_labels
from music_codecs.atomic import atomic_file, private_name
from music_codecs.errors import MusicFileError, UserError
from music_codecs.mel import MelConfig, fit_clip, wave_to_mel

VIDEO_EXTS = (".mp4", ".mkv", ".webm", ".avi", ".mov")


@dataclasses.dataclass
class Cache:
    mels: np.ndarray  # float32 [N, n_mels, frames], log-mel
    embeddings: np.ndarray  # float32 [N, D], L2-normalised CLIP image embeddings
    names: list  # video file names
    labels: list  # label per video ("" when unknown)
    times: np.ndarray  # float32 [N], the frame time (seconds)
    skipped: list  # (name, reason) of videos that could not be used


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
            return Cache(
                z["mels"],
                z["embeddings"],
                meta["names"],
                meta["labels"],
                z["times"],
                [tuple(s) for s in meta["skipped"]],
            )
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
        print(
            f"skipped {len(skipped)} of {len(names)} videos: "
            + "; ".join(f"{n} ({r})" for n, r in skipped[:5])
            + (" ..." if len(skipped) > 5 else "")
        )
    if not kept:
        raise UserError(f"{data_dir}: none of the {len(names)} videos could be read")
    emb = clip.embed_images(frames)
    cache = Cache(
        np.stack(mels),
        emb.astype(np.float32),
        kept,
        [labels_of.get(n, "") for n in kept],
        np.asarray(times, np.float32),
        skipped,
    )
    os.makedirs(cache_dir, exist_ok=True)
    # Arrays first, meta.json (the fingerprint) last: a reader never sees new meta with old arrays.
    with atomic_file(arr_path) as f:
        np.savez(f, mels=cache.mels, embeddings=cache.embeddings, times=cache.times)
    with atomic_file(meta_path) as f:
        f.write(
            json.dumps(
                {
                    "fingerprint": key,
                    "names": kept,
                    "labels": cache.labels,
                    "skipped": skipped,
                    "mel": dataclasses.asdict(cfg),
                }
            ).encode()
        )
    return cache


def make_dataset(mels, embeddings, batch_size, *, train=True, seed=0, process_index=0, process_count=1):
    """grain MapDataset of {"mel": [b, M, T], "cond": [b, D]}: this process's rows
    [i*b:(i+1)*b] (b = batch_size / process_count) of each global batch of `batch_size`, so
    every process count sees the same global batches.

    Training shuffles (anew each epoch), repeats forever and drops the partial batch; evaluation
    is one ordered epoch (static shapes: the partial batch is dropped there too).
    """
    import grain

    if len(mels) == 0:
        raise UserError("no training pairs")
    if batch_size % process_count:
        raise UserError(f"data.batch_size={batch_size} must divide over {process_count} processes")
    share = batch_size // process_count
    lo = process_index * share
    # Batch indices, not pairs, so each process gathers only its own rows.
    idx = grain.MapDataset.range(len(mels))
    if train:
        if len(idx) < batch_size:
            idx = idx.repeat(int(np.ceil(batch_size / len(idx))))
        idx = idx.shuffle(seed=seed).repeat(None)
    idx = idx.batch(batch_size, drop_remainder=True).map(lambda rows: rows[lo : lo + share])
    return idx.map(lambda rows: {"mel": mels[rows], "cond": embeddings[rows]})


def split(n, every_nth):
    """(train indices, eval indices): every n-th item is held out."""
    idx = np.arange(n)
    if every_nth <= 0 or n < 2:
        return idx, idx[:0]
    held = idx % every_nth == every_nth - 1
    return idx[~held], idx[held]


def cond_transform(embeddings, enabled):
    """(mean [D], scale) so that (e - mean) / scale has unit variance over the training set.

    Embeddings of one dataset share a large common direction (random or not, CLIP's image
    embeddings have pairwise cosines far above 0); removing it lets a small network see what
    differs between clips. The same map is applied to image or text queries at generation.
    """
    e = np.asarray(embeddings, np.float64)
    if not enabled:
        return np.zeros(e.shape[1], np.float32), 1.0
    mean = e.mean(0)
    return mean.astype(np.float32), float(max((e - mean).std(), 1e-6))


def ensure_demo_inputs(d, sample_rate, seed=0):
    """Write what a demo config asks for and lacks: a tiny random CLIP at d.clip_dir
    (d.make_tiny_clip) and d.synthetic_clips synthetic clips in an empty d.path. Each is built
    in a private folder and renamed into place, so concurrent processes cannot clash."""
    from clipsonic_jax import synthetic
    from model_kit import clip_load

    if not d.clip_dir:
        raise UserError("data.clip_dir is not set: give a Hugging Face CLIP folder (--clip DIR)")
    synthetic_wanted = d.synthetic_clips > 0 and not (os.path.isdir(d.path) and list_videos(d.path))
    if synthetic_wanted and os.path.exists(d.path):  # a folder of the user's: never filled uninvited
        raise UserError(
            f"{d.path}: no videos in this folder; data.synthetic_clips={d.synthetic_clips} "
            f"writes demo clips only into a folder that does not exist yet (set "
            f"data.synthetic_clips=0 or give a folder of videos)"
        )
    if not synthetic_wanted and not os.path.isdir(d.path):  # before writing anything
        raise UserError(f"{d.path}: video folder not found")
    if d.make_tiny_clip and not os.path.exists(os.path.join(d.clip_dir, "config.json")):
        print(f"writing a tiny random CLIP to {d.clip_dir} (demo only: it knows nothing)")
        build_in_place(d.clip_dir, lambda tmp: clip_load.write_tiny_clip(tmp, **clip_load.DEMO_CLIP))
    if synthetic_wanted:
        print(f"writing {d.synthetic_clips} synthetic clips to {d.path}")
        build_in_place(
            d.path,
            lambda tmp: synthetic.write_dataset(
                tmp, d.synthetic_clips, seed=seed, sample_rate=sample_rate, progress=True
            ),
        )


def build_in_place(target, build):
    """Run build(private folder), then rename that folder to `target` unless another process
    got there first (rename replaces only an empty folder); the loser's copy is discarded."""
    target = os.path.abspath(target)
    tmp = f"{target}.{private_name()}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(os.path.dirname(target), exist_ok=True)
    build(tmp)
    try:
        os.rename(tmp, target)  # replaces an empty folder; fails if another process won
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)

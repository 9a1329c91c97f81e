"""(caption, image) pairs for training the prior, as CLIP embeddings: the text embedding and text
encodings of the caption (the prior's condition) and the image embedding (its target).

Sources, chosen by what `path` holds:
* a folder of videos (the audio model's data): the image is the clip's centre frame, read from
  (or written to) the audio model's embeddings cache; captions from a CSV (file,caption) or, for
  a folder with labels.csv such as the synthetic set, `template` filled with each clip's label;
* a folder of images with a captions CSV (file,caption).
Several captions per file (several CSV rows, or templates separated by '|') give several pairs.
Files are split like the audio model's data (every n-th file held out), so held-out clips are
the same for both.

    pairs = build_pairs(data_cfg, clip)          # Pairs(text, enc, image, file_of_pair, ...)
    ds = make_dataset(pairs.arrays(idx), batch_size, seed=0, process_index=i, process_count=n)
"""

from __future__ import annotations

import csv
import dataclasses
import json
import os

import numpy as np

from clipsonic_jax import data
from music_codecs.errors import UserError
from music_codecs.mel import MelConfig

IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".gif")


@dataclasses.dataclass
class Pairs:
    text: np.ndarray  # float32 [P, D] unit CLIP text embeddings
    enc: np.ndarray  # float32 [P, L, H] text encodings (zero after EOS)
    image: np.ndarray  # float32 [P, D] unit CLIP image embeddings
    file_index: np.ndarray  # int [P]: which file the pair came from
    files: list  # file names
    captions: list  # caption of each pair
    train_idx: np.ndarray  # pair indices of training files
    eval_idx: np.ndarray  # pair indices of held-out files
    skipped: list  # (file, reason)

    def arrays(self, idx):
        return {"text": self.text[idx], "enc": self.enc[idx], "image": self.image[idx]}


def read_captions(path):
    """{file: [captions]} from a CSV with columns file,caption."""
    if not os.path.exists(path):
        raise UserError(f"{path}: captions CSV not found")
    out = {}
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        if not reader.fieldnames or not {"file", "caption"} <= set(reader.fieldnames):
            raise UserError(f"{path}: needs the columns file,caption (has {reader.fieldnames})")
        for row in reader:
            if row["file"] and row["caption"] and row["caption"].strip():
                out.setdefault(row["file"], []).append(row["caption"].strip())
    if not out:
        raise UserError(f"{path}: no captions")
    return out


def _video_images(d, clip):
    """(files, unit image embeddings, labels) through the audio model's embeddings cache."""
    cache_dir = d.cache_dir or os.path.join(d.path, ".clipsonic-cache")
    mel = MelConfig()
    meta = os.path.join(cache_dir, "meta.json")
    if os.path.exists(meta):  # reuse the audio model's cache (its fingerprint names its mel settings)
        with open(meta) as f:
            mel = MelConfig(**json.load(f).get("mel", {}))
    cache = data.prepare(d.path, cache_dir, clip, mel)
    return list(cache.names), cache.embeddings, list(cache.labels), list(cache.skipped)


def _folder_images(d, clip, files):
    from PIL import Image, UnidentifiedImageError
    from tqdm import tqdm

    kept, images, skipped = [], [], []
    for name in tqdm(files, desc="images", unit="image"):
        try:
            with Image.open(os.path.join(d.path, name)) as im:
                images.append(np.asarray(im.convert("RGB")))
            kept.append(name)
        except (OSError, UnidentifiedImageError) as err:
            skipped.append((name, str(err).split("\n")[0]))
    if not kept:
        raise UserError(f"{d.path}: none of the {len(files)} captioned images could be read")
    return kept, clip.embed_images(images), skipped


def build_pairs(d, clip) -> Pairs:
    if not os.path.isdir(d.path):
        raise UserError(f"{d.path}: data folder not found")
    captions = read_captions(d.captions) if d.captions else None
    videos = [f for f in os.listdir(d.path) if f.lower().endswith(data.VIDEO_EXTS)]
    skipped = []
    if videos:
        files, images, labels, skipped = _video_images(d, clip)
        if captions is None:
            templates = [t.strip() for t in d.template.split("|") if t.strip()]
            if not any(labels):
                raise UserError(f"{d.path}: no labels.csv; give data.captions=CSV (file,caption)")
            captions = {f: [t.format(label=lab) for t in templates] for f, lab in zip(files, labels) if lab}
    else:
        if captions is None:
            raise UserError(f"{d.path}: no videos; for images give data.captions=CSV (file,caption)")
        listed = sorted(f for f in captions if f.lower().endswith(IMAGE_EXTS))
        missing = [f for f in listed if not os.path.exists(os.path.join(d.path, f))]
        skipped += [(f, "file not found") for f in missing]
        files, images, more = _folder_images(d, clip, [f for f in listed if f not in missing])
        skipped += more
    uncaptioned = [f for f in files if f not in captions]
    skipped += [(f, "no caption") for f in uncaptioned]
    if skipped:
        print(
            f"prior data: skipped {len(skipped)} files: "
            + "; ".join(f"{n} ({r})" for n, r in skipped[:5])
            + (" ..." if len(skipped) > 5 else "")
        )
    file_index, texts = [], []
    for i, f in enumerate(files):
        for c in captions.get(f, []):
            file_index.append(i), texts.append(c)
    if not texts:
        raise UserError(f"{d.path}: no (caption, image) pairs")
    unique = sorted(set(texts))
    emb, enc = clip.embed_texts_with_encodings(unique)
    row = np.array([unique.index(t) for t in texts])
    file_index = np.asarray(file_index)
    train_files, eval_files = data.split(len(files), d.eval_every_nth)
    held = np.isin(file_index, eval_files)
    return Pairs(
        emb[row],
        enc[row],
        np.asarray(images, np.float32)[file_index],
        file_index,
        files,
        texts,
        np.flatnonzero(~held),
        np.flatnonzero(held),
        skipped,
    )


def make_dataset(arrays, batch_size, *, train=True, seed=0, process_index=0, process_count=1):
    """grain MapDataset of this process's rows of each global batch (as data.make_dataset)."""
    import grain

    n = len(next(iter(arrays.values())))
    if n == 0:
        raise UserError("no prior training pairs")
    if batch_size % process_count:
        raise UserError(f"data.batch_size={batch_size} must divide over {process_count} processes")
    share = batch_size // process_count
    lo = process_index * share
    idx = grain.MapDataset.range(n)
    if train:
        if n < batch_size:
            idx = idx.repeat(int(np.ceil(batch_size / n)))
        idx = idx.shuffle(seed=seed).repeat(None)
    idx = idx.batch(batch_size, drop_remainder=True).map(lambda rows: rows[lo : lo + share])
    return idx.map(lambda rows: {k: v[rows] for k, v in arrays.items()})

"""Embedding statistics of a reference set, cached on disk so FAD against it is cheap to repeat.

mu, sigma, n = reference_stats(embedder, files, cache_dir, load_wave, extra="")
    <cache_dir>/fad-<key>.npz, key = hash(embedder fingerprint, each file's path, size, mtime,
    `extra`: how load_wave cuts the files); a changed file, another file list, other weights
    or another cut give another key.
"""

from __future__ import annotations

import hashlib
import json
import os

import numpy as np

from model_kit.frechet import gaussian_stats
from music_codecs.atomic import atomic_file


def stats_key(embedder, files, extra=""):
    items = []
    for f in files:
        st = os.stat(f)
        items.append([os.path.abspath(f), st.st_size, int(st.st_mtime_ns)])
    blob = json.dumps([embedder.fingerprint, items, extra]).encode()
    return hashlib.sha256(blob).hexdigest()[:20]


def reference_stats(embedder, files, cache_dir, load_wave, sample_rate=16000, extra=""):
    """(mu, sigma, n_embeddings) of the files' embeddings; load_wave(path) -> mono wave."""
    path = os.path.join(cache_dir, f"fad-{stats_key(embedder, files, extra)}.npz")
    if os.path.exists(path):
        with np.load(path) as z:
            return z["mu"], z["sigma"], int(z["n"])
    emb = embedder.embed([load_wave(f) for f in files], sample_rate)
    mu, sigma = gaussian_stats(emb)
    os.makedirs(cache_dir, exist_ok=True)
    with atomic_file(path) as f:
        np.savez(f, mu=mu, sigma=sigma, n=len(emb), model=embedder.name)
    return mu, sigma, len(emb)

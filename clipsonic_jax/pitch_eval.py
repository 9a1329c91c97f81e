"""Does the generated audio have the pitch the picture implies? (synthetic dataset only)

Each synthetic class is a colour with one fundamental frequency. A log-mel's dominant band is the
argmax of its time-averaged spectrum; each class's reference band is the dominant band of its real
training mels. A generated mel is assigned the class whose reference band is nearest; accuracy is
measured on held-out clips against chance = 1 / number of classes.

    report = pitch_accuracy(model, cache, eval_idx, train_idx)   # model: load.load(RUN)
    report = pitch_accuracy(..., queries=text_or_prior_embeddings)   # ZS / PD
"""

from __future__ import annotations

import numpy as np


def dominant_band(logmels):
    """int [N]: the mel band with the most time-averaged energy."""
    return np.argmax(np.exp(np.asarray(logmels)).mean(axis=-1), axis=-1)


def class_bands(logmels, labels):
    """{label: median dominant band of that label's mels}."""
    bands = dominant_band(logmels)
    labels = np.asarray(labels)
    return {lab: float(np.median(bands[labels == lab])) for lab in sorted(set(labels.tolist()))}


def classify(logmels, bands):
    names = list(bands)
    ref = np.array([bands[n] for n in names])
    dom = dominant_band(logmels)
    return [names[i] for i in np.argmin(np.abs(dom[:, None] - ref[None]), axis=1)]


def pitch_accuracy(
    model,
    cache,
    eval_idx,
    train_idx,
    seed=0,
    steps=None,
    guidance=None,
    batch=16,
    queries=None,
    keep_mels=False,
):
    """queries: the conditioning embeddings for the clips eval_idx, in order (default: their
    image embeddings, CLIPSonic-IQ; text embeddings give ZS, prior samples PD). keep_mels: the
    generated log-mels also come back, as "mels" (for FAD)."""
    labels = np.asarray(cache.labels)
    if not all(labels):
        raise ValueError("pitch accuracy needs labelled (synthetic) clips")
    bands = class_bands(cache.mels[train_idx], labels[train_idx])
    queries = cache.embeddings[eval_idx] if queries is None else np.asarray(queries)
    mels = [
        model.generate(queries[i : i + batch], seed=seed + i, steps=steps, guidance=guidance)
        for i in range(0, len(eval_idx), batch)
    ]
    mels = np.concatenate(mels)
    pred = classify(mels, bands)
    truth = labels[eval_idx]
    real = classify(cache.mels[eval_idx], bands)
    more = {"mels": mels} if keep_mels else {}
    return more | {
        "accuracy": float(np.mean(np.asarray(pred) == truth)),
        "real_audio_accuracy": float(np.mean(np.asarray(real) == truth)),
        "chance": 1.0 / len(bands),
        "n": int(len(eval_idx)),
        "class_bands": bands,
    }

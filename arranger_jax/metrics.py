"""Scores of a part labelling (reference §8), pooled over all notes of all pieces (micro-average).

Accuracy is the paper's only metric. The reference code also computes balanced accuracy (mean
per-part recall), a confusion matrix over all notes, and two pairwise consistency scores:
soundness (notes given the same part really belong together) and completeness (notes that belong
together were given the same part), each over consecutive pairs in the sorted note order.
"""

from __future__ import annotations

import numpy as np


def _pairs_agreeing(group_by, values, num_parts):
    """Over each group (notes with the same `group_by` value, in order), count consecutive pairs
    whose `values` are equal; returns (agreeing, total)."""
    agree = total = 0
    for c in range(num_parts):
        seq = values[group_by == c]
        if len(seq) > 1:
            agree += int(np.sum(seq[1:] == seq[:-1]))
            total += len(seq) - 1
    return agree, total


def confusion(pred, true, num_parts):
    """Counts [true part, predicted part]."""
    m = np.zeros((num_parts, num_parts), np.int64)
    np.add.at(m, (np.asarray(true), np.asarray(pred)), 1)
    return m


def evaluate(predictions, labels, num_parts):
    """Scores of per-piece predicted and true part indices (two lists of 1-D arrays)."""
    if len(predictions) != len(labels):
        raise ValueError("one prediction array per label array is needed")
    counts = np.zeros((num_parts, num_parts), np.int64)
    sound = [0, 0]
    complete = [0, 0]
    for pred, true in zip(predictions, labels):
        pred, true = np.asarray(pred), np.asarray(true)
        if pred.shape != true.shape:
            raise ValueError(f"prediction shape {pred.shape} != label shape {true.shape}")
        counts += confusion(pred, true, num_parts)
        a, t = _pairs_agreeing(pred, true, num_parts)
        sound[0] += a
        sound[1] += t
        a, t = _pairs_agreeing(true, pred, num_parts)
        complete[0] += a
        complete[1] += t
    total = counts.sum()
    per_part = counts.sum(1)
    recalls = np.diag(counts)[per_part > 0] / per_part[per_part > 0]
    return {
        "notes": int(total),
        "accuracy": float(np.trace(counts) / total) if total else float("nan"),
        "balanced_accuracy": float(recalls.mean()) if len(recalls) else float("nan"),
        "soundness": sound[0] / sound[1] if sound[1] else float("nan"),
        "completeness": complete[0] / complete[1] if complete[1] else float("nan"),
        "confusion": (counts / total if total else counts.astype(float)).tolist(),
    }

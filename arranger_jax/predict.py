"""Part predictions of a whole-sequence model and its scores on a test split (reference §8).

    predict_pieces(model, params, pieces, num_parts, data_cfg, max_len)   [parts 0..K-1 per piece]
    score_test(model, params, pieces, num_parts, data_cfg)   run.json metrics: test_accuracy, ...

Used after training (train.ArrangerTask.after_export) and by `convert-reference --data`.
"""

from __future__ import annotations

import numpy as np

from arranger_jax import features as F
from arranger_jax.config import DataConfig


def predict_pieces(model, params, pieces, num_parts, cfg: DataConfig, max_len=None):
    """Part predictions (0..K-1) per piece, for its first `max_len` notes (None: every note)."""
    import jax

    apply = jax.jit(lambda p, x: model.apply({"params": p}, x, train=False))
    out = {}
    examples = [F.piece_inputs(p, num_parts, max_len, cfg.reference_entry_hints) for p in pieces]
    for piece, (inputs, _) in zip(pieces, examples):
        n = len(inputs["pitch"])
        length = -(-n // 64) * 64  # a few padded lengths instead of one compile per piece
        batch = {k: v[None] for k, v in F.pad(inputs, length).items()}
        logits = np.asarray(apply(params, batch))[0, :n]
        out[piece.name] = np.argmax(logits[:, 1:], -1)
    return [out[p.name] for p in pieces]


def score_test(model, params, pieces, num_parts, cfg: DataConfig):
    """Scores on `pieces` (each up to cfg.max_eval_len notes) as run.json metrics: test_accuracy,
    test_balanced_accuracy, test_soundness, test_completeness, test_notes."""
    from arranger_jax import metrics as M

    preds = predict_pieces(model, params, pieces, num_parts, cfg, cfg.max_eval_len)
    scores = M.evaluate(preds, [p.label[: len(q)] for p, q in zip(pieces, preds)], num_parts)
    return {f"test_{k}": v for k, v in scores.items() if k != "confusion"}

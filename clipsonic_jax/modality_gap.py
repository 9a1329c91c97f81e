"""The modality gap: how close CLIP text-query embeddings are to the image embeddings of the clips
they describe (the paper reports mean cosine 0.205 on VGGSound and 0.245 on MUSIC, text vs image;
reference §1.2). The mean over mismatched pairs is given beside it as the reference level.

    r = modality_gap(text_emb [K, D], image_emb [N, D], query_of_clip int [N])     # ZS
    r = paired_gap(prior_emb [N, D], image_emb [N, D], labels [N])   # PD: one prior sample per clip
    r = image_gap(image_emb [N, D], labels [N])          # IQ level: other clips' images of the label

The paper's Table 2 reports sim(text, image) 0.205 / 0.245 (VGGSound / MUSIC) for ZS against
sim(prior(text), image) 0.647 / 0.720 for PD (reference §1.2, not re-checked against the paper).
"""

from __future__ import annotations

import numpy as np

from music_codecs.errors import UserError


def modality_gap(text_emb, image_emb, query_of_clip):
    """{"matched": mean cos(text of clip's query, clip image), "mismatched": mean over the other
    queries, "n": clips}. Embeddings need not be normalised."""
    t = np.asarray(text_emb, np.float64)
    i = np.asarray(image_emb, np.float64)
    q = np.asarray(query_of_clip)
    if len(i) == 0 or len(i) != len(q):
        raise UserError("modality gap needs one query index per clip and at least one clip")
    t = t / np.linalg.norm(t, axis=1, keepdims=True)
    i = i / np.linalg.norm(i, axis=1, keepdims=True)
    cos = i @ t.T  # [N, K]
    matched = cos[np.arange(len(q)), q]
    other = np.ones_like(cos, bool)
    other[np.arange(len(q)), q] = False
    mismatched = cos[other].mean() if other.any() else float("nan")
    return {"matched": float(matched.mean()), "mismatched": float(mismatched), "n": int(len(q))}


def paired_gap(query_emb, image_emb, labels):
    """Per-clip queries (e.g. one prior sample per clip): {"matched": mean cos(query_i, image_i),
    "mismatched": mean cos over clip pairs of different labels, "n"}."""
    q = np.asarray(query_emb, np.float64)
    i = np.asarray(image_emb, np.float64)
    lab = np.asarray(labels)
    if len(i) == 0 or q.shape != i.shape or len(lab) != len(i):
        raise UserError("paired modality gap needs one query per clip and at least one clip")
    q = q / np.linalg.norm(q, axis=1, keepdims=True)
    i = i / np.linalg.norm(i, axis=1, keepdims=True)
    cos = q @ i.T
    other = lab[:, None] != lab[None, :]
    return {
        "matched": float(np.diag(cos).mean()),
        "mismatched": float(cos[other].mean()) if other.any() else float("nan"),
        "n": int(len(i)),
    }


def image_gap(image_emb, labels):
    """The in-modality reference (what an image query of another clip gives): mean cos between
    image embeddings of different clips of the same label ("matched") and of different labels."""
    i = np.asarray(image_emb, np.float64)
    i = i / np.linalg.norm(i, axis=1, keepdims=True)
    lab = np.asarray(labels)
    cos = i @ i.T
    same = (lab[:, None] == lab[None, :]) & ~np.eye(len(lab), dtype=bool)
    other = lab[:, None] != lab[None, :]
    return {
        "matched": float(cos[same].mean()) if same.any() else float("nan"),
        "mismatched": float(cos[other].mean()) if other.any() else float("nan"),
        "n": int(len(lab)),
    }

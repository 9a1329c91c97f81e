"""The modality gap: how close CLIP text-query embeddings are to the image embeddings of the clips
they describe (the paper reports mean cosine 0.205 on VGGSound and 0.245 on MUSIC, text vs image;
reference §1.2). The mean over mismatched pairs is given beside it as the reference level.

    r = modality_gap(text_emb [K, D], image_emb [N, D], query_of_clip int [N])
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

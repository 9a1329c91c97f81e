"""The Fréchet distance between two Gaussians, the core of FAD (Kilgour et al. 2019):

    d² = |mu1 - mu2|² + tr(S1 + S2 - 2 (S1 S2)^½)

    stats = gaussian_stats(embeddings)        # (mean [D], covariance [D, D]) in float64
    frechet_distance(*stats_a, *stats_b)      # float >= 0

NumPy/SciPy only: FAD is a statistic of a few hundred embeddings, not a network.
"""

from __future__ import annotations

import numpy as np

from music_codecs.errors import UserError


def gaussian_stats(embeddings):
    """(mean [D], unbiased covariance [D, D]) of embeddings [N, D], in float64; N >= 2."""
    x = np.asarray(embeddings, np.float64)
    if x.ndim != 2 or x.shape[0] < 2:
        raise UserError(f"Fréchet statistics need at least 2 embeddings [N, D], got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise UserError("embeddings contain NaN or infinite values")
    return x.mean(axis=0), np.cov(x, rowvar=False)


def _trace_sqrt_product(s1, s2, eps):
    """tr((S1 S2)^½). S1 S2 is not symmetric, so scipy's sqrtm can return tiny imaginary parts
    from rounding; when it is near-singular (fewer samples than dimensions) the square root can
    fail, and a small eps on both diagonals makes it well defined."""
    from scipy import linalg

    covmean = linalg.sqrtm(s1 @ s2)
    if not np.all(np.isfinite(covmean)):
        offset = np.eye(s1.shape[0]) * eps
        covmean = linalg.sqrtm((s1 + offset) @ (s2 + offset))
    if np.iscomplexobj(covmean):
        imag = np.max(np.abs(np.imag(np.diagonal(covmean))))
        if imag > 1e-3 * max(1.0, np.max(np.abs(np.real(np.diagonal(covmean))))):
            raise ValueError(f"sqrtm of the covariance product has a large imaginary part ({imag:.3g})")
        covmean = np.real(covmean)
    return float(np.trace(covmean))


def frechet_distance(mu1, sigma1, mu2, sigma2, eps=1e-6):
    """The squared Fréchet (2-Wasserstein) distance between N(mu1, sigma1) and N(mu2, sigma2)."""
    mu1, mu2 = np.atleast_1d(np.asarray(mu1, np.float64)), np.atleast_1d(np.asarray(mu2, np.float64))
    s1, s2 = np.atleast_2d(np.asarray(sigma1, np.float64)), np.atleast_2d(np.asarray(sigma2, np.float64))
    if mu1.shape != mu2.shape or s1.shape != s2.shape or s1.shape != (mu1.size, mu1.size):
        raise UserError(
            f"Fréchet distance: shapes differ (means {mu1.shape}, {mu2.shape}; "
            f"covariances {s1.shape}, {s2.shape})"
        )
    diff = mu1 - mu2
    d = diff @ diff + np.trace(s1) + np.trace(s2) - 2.0 * _trace_sqrt_product(s1, s2, eps)
    return max(float(d), 0.0)  # rounding can leave -1e-12 for identical Gaussians


def fad(embeddings_a, embeddings_b):
    """FAD between two sets of embeddings [N, D] and [M, D]."""
    return frechet_distance(*gaussian_stats(embeddings_a), *gaussian_stats(embeddings_b))

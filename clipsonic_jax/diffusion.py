"""Gaussian diffusion over normalised mels: noise schedules, epsilon/v targets, the training loss
with condition dropout (for classifier-free guidance).

The network is called as `apply_fn(params, x_t, t, cond, keep) -> output` with x_t [B, M, T],
t int32 [B] in [0, timesteps), cond [B, D] (a CLIP embedding) and keep bool [B] (False: the
condition is dropped and the network uses its learned null embedding). What the output means is
`DiffusionConfig.prediction`: "eps" (the noise) or "v" (a·eps - s·x0, Salimans & Ho 2022), where
x_t = a·x0 + s·eps, a = sqrt(alpha_bar_t), s = sqrt(1 - alpha_bar_t). DiffusionConfig is defined
in clipsonic_jax/config.py (re-exported here).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from clipsonic_jax.config import DiffusionConfig  # noqa: F401  (re-exported)


def alpha_bar(cfg: DiffusionConfig):
    """float64 [timesteps]: the signal fraction alpha_bar_t for t = 0 .. timesteps-1."""
    n = cfg.timesteps
    if cfg.schedule == "linear":
        betas = np.linspace(*cfg.linear_beta, n, dtype=np.float64)
        return np.cumprod(1.0 - betas)
    s = 0.008

    def f(t):
        return np.cos((t / n + s) / (1 + s) * np.pi / 2) ** 2

    betas = np.clip(1.0 - f(np.arange(1, n + 1)) / f(np.arange(n)), 0.0, 0.999)
    return np.cumprod(1.0 - betas)


def _bcast(v, x):
    return v.reshape(v.shape + (1,) * (x.ndim - v.ndim))


def to_eps_x0(output, x_t, a, s, prediction):
    """(eps, x0) from the network output; a, s broadcast against x_t."""
    if prediction == "eps":
        return output, (x_t - s * output) / a
    return s * x_t + a * output, a * x_t - s * output


def target(x0, eps, a, s, prediction):
    return eps if prediction == "eps" else a * eps - s * x0


def make_loss(apply_fn, cfg: DiffusionConfig):
    """train_kit loss_fn(params, batch, rng) for batches {"mel": [B, M, T], "cond": [B, D]}."""
    abar = jnp.asarray(alpha_bar(cfg), jnp.float32)

    def loss_fn(params, batch, rng):
        x0, cond = batch["mel"], batch["cond"]
        k_t, k_eps, k_drop = jax.random.split(rng, 3)
        b = x0.shape[0]
        t = jax.random.randint(k_t, (b,), 0, cfg.timesteps)
        eps = jax.random.normal(k_eps, x0.shape, x0.dtype)
        a = _bcast(jnp.sqrt(abar[t]), x0).astype(x0.dtype)
        s = _bcast(jnp.sqrt(1.0 - abar[t]), x0).astype(x0.dtype)
        keep = jax.random.uniform(k_drop, (b,)) >= cfg.cond_drop
        out = apply_fn(params, a * x0 + s * eps, t, cond, keep)
        err = (out.astype(jnp.float32) - target(x0, eps, a, s, cfg.prediction).astype(jnp.float32)) ** 2
        loss = jnp.mean(err)
        return loss, {"mse": loss, "cond_kept": jnp.mean(keep.astype(jnp.float32))}

    return loss_fn

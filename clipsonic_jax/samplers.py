"""DDPM and DDIM samplers: each one jitted `lax.scan` over the steps, batched, with classifier-free
guidance inside the step (conditional and null passes share one network call on a 2B batch).

    sample = make_sampler(apply_fn, dcfg, shape=(M, T), steps=50, kind="ddim")
    x0 = sample(params, cond [B, D], rng, guidance=3.0)          # [B, M, T]

The step from t to the previous kept step s (Song et al. 2021, eq. 12):
    x_s = sqrt(ab_s)·x0 + sqrt(1 - ab_s - sigma²)·eps + sigma·z,
    sigma = eta·sqrt((1 - ab_s)/(1 - ab_t))·sqrt(1 - ab_t/ab_s).
DDIM is eta = 0 (deterministic); DDPM is eta = 1, the ancestral posterior q(x_s | x_t, x0)
(steps = timesteps gives Ho et al.'s original chain; fewer steps stride it like DDIM). Guidance: eps = eps_null + w·(eps_cond - eps_null)
(w = 1 is plain conditional sampling, w = 0 unconditional). `guidance` is traced, so changing it
does not recompile.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from clipsonic_jax.diffusion import DiffusionConfig, alpha_bar, to_eps_x0
from music_codecs.errors import UserError


def timestep_pairs(timesteps, steps):
    """(t, previous t) int32 pairs from noisy to clean, evenly strided; previous = -1 at the end."""
    if not 1 <= steps <= timesteps:
        raise UserError(f"sampling steps must be in 1..{timesteps}, got {steps}")
    ts = np.unique(np.round(np.linspace(0, timesteps - 1, steps)).astype(np.int32))[::-1]
    return ts, np.append(ts[1:], -1).astype(np.int32)


def make_sampler(apply_fn, cfg: DiffusionConfig, shape, steps=50, kind="ddim", eta=None, clip_x0=None):
    """A jitted fn(params, cond, rng, guidance) -> x0 [B, *shape].

    kind "ddim" (eta 0 unless given) or "ddpm" (eta 1). clip_x0: clamp predicted x0 to
    [-clip_x0, clip_x0] each step (None: no clamp; mels normalised to [-1, 1] like 1.0).
    """
    if kind not in ("ddim", "ddpm"):
        raise UserError(f"sampler {kind!r}: choose 'ddim' or 'ddpm'")
    eta = (0.0 if kind == "ddim" else 1.0) if eta is None else float(eta)
    abar = np.concatenate([alpha_bar(cfg), [1.0]])  # index -1 -> alpha_bar = 1 (clean)
    ts, prev = timestep_pairs(cfg.timesteps, steps)
    ab_t, ab_s = abar[ts], abar[prev]
    sigma = eta * np.sqrt((1 - ab_s) / (1 - ab_t)) * np.sqrt(np.clip(1 - ab_t / ab_s, 0, None))
    xs = tuple(jnp.asarray(v, jnp.float32) for v in (ts, ab_t, ab_s, sigma))
    xs = (xs[0].astype(jnp.int32),) + xs[1:]

    def sample(params, cond, rng, guidance):
        b = cond.shape[0]
        k0, k_steps = jax.random.split(rng)
        x = jax.random.normal(k0, (b, *shape), jnp.float32)
        keep = jnp.concatenate([jnp.ones((b,), bool), jnp.zeros((b,), bool)])
        cond2 = jnp.concatenate([cond, cond])

        def step(x, inputs):
            (t, a_t, a_s, sig), key = inputs
            out = apply_fn(params, jnp.concatenate([x, x]), jnp.full((2 * b,), t), cond2, keep)
            a, s = jnp.sqrt(a_t), jnp.sqrt(1 - a_t)
            eps2, _ = to_eps_x0(out.astype(jnp.float32), jnp.concatenate([x, x]), a, s, cfg.prediction)
            eps = eps2[b:] + guidance * (eps2[:b] - eps2[b:])
            x0 = (x - s * eps) / a
            if clip_x0 is not None:
                x0 = jnp.clip(x0, -clip_x0, clip_x0)
                eps = (x - a * x0) / s
            x = (
                jnp.sqrt(a_s) * x0
                + jnp.sqrt(jnp.maximum(1 - a_s - sig**2, 0.0)) * eps
                + sig * jax.random.normal(key, x.shape, x.dtype)
            )
            return x, None

        keys = jax.random.split(k_steps, len(ts))
        x, _ = jax.lax.scan(step, x, (xs, keys))
        return x

    return jax.jit(sample)

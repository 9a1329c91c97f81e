"""DDIM/DDPM on Gaussian data with the exact optimal denoiser: the samples have the data's mean and
variance; guidance mixes the conditional and null predictions as specified."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from clipsonic_jax.diffusion import DiffusionConfig, alpha_bar
from clipsonic_jax.samplers import make_sampler, timestep_pairs

STD = 0.5


def optimal(cfg):
    """Exact E[eps | x_t] (or v) for x0 ~ N(mu, STD²) per element; mu = cond (or 0 when dropped)."""
    abar = jnp.asarray(alpha_bar(cfg), jnp.float32)

    def apply_fn(params, x, t, cond, keep):
        mu = jnp.where(keep[:, None], cond, 0.0)[:, :, None] + params["shift"]
        ab = abar[t][:, None, None]
        a, s = jnp.sqrt(ab), jnp.sqrt(1 - ab)
        var = a**2 * STD**2 + s**2
        eps = s * (x - a * mu) / var
        if cfg.prediction == "eps":
            return eps
        x0 = mu + a * STD**2 * (x - a * mu) / var
        return a * eps - s * x0

    return apply_fn


@pytest.mark.parametrize(
    "kind,steps,schedule,prediction",
    [
        ("ddim", 50, "cosine", "eps"),
        ("ddim", 250, "linear", "v"),
        ("ddim", 100, "cosine", "v"),
        ("ddpm", 1000, "cosine", "eps"),
    ],
)
def test_samples_match_gaussian_data(kind, steps, schedule, prediction):
    cfg = DiffusionConfig(timesteps=1000, schedule=schedule, prediction=prediction)
    sample = make_sampler(optimal(cfg), cfg, shape=(2, 1024), steps=steps, kind=kind)
    cond = jnp.array([[1.5, -1.0], [0.0, 0.5]])
    x = np.asarray(sample({"shift": 0.0}, cond, jax.random.key(0), 1.0))  # [2, 2, 256]
    assert x.shape == (2, 2, 1024)
    samples = x.reshape(4, -1)  # each row: 1024 draws from one Gaussian
    np.testing.assert_allclose(samples.mean(1), np.asarray(cond).reshape(-1), atol=0.05)
    np.testing.assert_allclose(samples.std(1), STD, rtol=0.06)


def test_guidance_scale_extrapolates_from_the_null_prediction():
    cfg = DiffusionConfig(timesteps=1000)
    sample = make_sampler(optimal(cfg), cfg, shape=(1, 512), steps=25, kind="ddim")
    cond = jnp.array([[1.0]])
    means = [float(sample({"shift": 0.0}, cond, jax.random.key(1), w).mean()) for w in (0.0, 1.0, 2.0)]
    assert abs(means[0]) < 0.08 and abs(means[1] - 1.0) < 0.08
    assert means[2] > 1.3  # w > 1 pushes past the conditional mean


def test_timestep_pairs_end_clean():
    ts, prev = timestep_pairs(1000, 50)
    assert len(ts) == 50 and ts[0] == 999 and ts[-1] == 0 and prev[-1] == -1
    assert np.all(prev[:-1] == ts[1:])

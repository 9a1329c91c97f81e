"""WGAN-GP (Gulrajani et al. 2017; reference §1.3): the critic and generator losses.

gradient_penalty(critic_fn, real, fake, alpha, per_track=False)
    x = real + alpha * (fake - real) (alpha [B], one per example: the v1 code's flattened
    uniform interpolates); mean over examples of (||d critic / d x|| - 1)^2. With scores
    [B, K>1] (jamming: one critic per track, each seeing only its track) the norm is taken
    per track and the K penalties are added.
critic_loss = E[D(fake)] - E[D(real)] + gp_weight * gp;   generator_loss = -E[D(G(z))]
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def gradient_penalty(critic_fn, real, fake, alpha):
    shape = (-1,) + (1,) * (real.ndim - 1)
    x = real + alpha.reshape(shape) * (fake - real)
    scores = critic_fn(x)
    grads = jax.grad(lambda x: critic_fn(x).sum())(x)
    k = scores.shape[-1]
    if k == 1:
        norms = jnp.sqrt(jnp.sum(grads.reshape(grads.shape[0], -1) ** 2, -1) + 1e-12)[:, None]
    else:  # critic i reads track i (the last axis) only
        norms = jnp.sqrt(jnp.sum(grads.reshape(grads.shape[0], -1, k) ** 2, 1) + 1e-12)
    return jnp.sum(jnp.mean((norms - 1.0) ** 2, axis=0))


def sample_latents(rng, batch, cfg):
    """Standard-normal latents for ModelConfig `cfg`: a dict keyed by cfg.latent_parts()."""
    from musegan_jax.config import TRACKS

    parts = cfg.latent_parts()
    d = cfg.latent // len(parts)
    keys = jax.random.split(rng, len(parts))
    out = {}
    for key, part in zip(keys, parts):
        shape = (batch, len(TRACKS), d) if part.endswith("private") else (batch, d)
        out[part] = jax.random.normal(key, shape)
    return out


def to_signed(real):
    """Binary rolls -> {-1, +1}, the range of the generator's tanh."""
    return real.astype(jnp.float32) * 2.0 - 1.0


def condition_of(x, cfg):
    from musegan_jax.config import TRACKS

    return x[..., TRACKS.index(cfg.condition_track)] if cfg.conditional else None


def make_losses(models, gp_weight):
    """(critic_loss, generator_loss) in train_kit's group-step form:
    loss_fn(params, extra, batch, rng) with params {"generator", "critic"}, extra {"batch_stats"}."""
    cfg = models.cfg

    def generate(params, extra, rng, batch_size, condition):
        variables = {"params": params["generator"], **extra}
        fake, updates = models.generator.apply(
            variables, sample_latents(rng, batch_size, cfg), True, condition, mutable=["batch_stats"]
        )
        return fake, dict(updates)

    def critic(params, x):
        return models.critic.apply({"params": params["critic"]}, x)

    def critic_loss(params, extra, batch, rng):
        real = to_signed(batch["real"])
        k_z, k_alpha = jax.random.split(rng)
        fake, _ = generate(params, extra, k_z, real.shape[0], condition_of(real, cfg))
        fake = jax.lax.stop_gradient(fake)
        d_real = critic(params, real).sum(-1).mean()
        d_fake = critic(params, fake).sum(-1).mean()
        alpha = jax.random.uniform(k_alpha, (real.shape[0],))
        gp = gradient_penalty(lambda x: critic(params, x), real, fake, alpha)
        return d_fake - d_real + gp_weight * gp, {"wasserstein": d_real - d_fake, "gp": gp}

    def generator_loss(params, extra, batch, rng):
        leaf = jax.tree.leaves(batch)[0]
        condition = None
        if cfg.conditional:
            condition = condition_of(to_signed(batch["real"]), cfg)
        fake, new_extra = generate(params, extra, rng, leaf.shape[0], condition)
        return -critic(params, fake).sum(-1).mean(), ({}, new_extra)

    return critic_loss, generator_loss

"""Optimiser factory on optax.

tx, schedule = make_optimizer(optim_cfg)
    Adam or AdamW (decoupled weight decay) with `schedule`, global-norm clipping first
    (clip_norm > 0), wrapped in optax.MultiSteps when grad_accum_steps > 1 (one update every
    k calls; the inner step count, and so the schedule, advances once per update).
lr_schedule(optim_cfg)      step -> learning rate (see OptimConfig for the exact shape)
learning_rate(schedule, step, optim_cfg)   the rate in force at train-step `step`
compute_dtype(optim_cfg)    jnp.bfloat16 when mixed_precision, else None
cast_floating(tree, dtype)  cast floating leaves (params for bf16 compute; f32 masters stay)
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

from train_kit.config import OptimConfig


def lr_schedule(cfg: OptimConfig):
    """Linear warm-up ((s + warmup_offset) / W), then linear/cosine/constant decay to the floor."""
    cfg.validate()
    warm, floor = cfg.warmup_steps, cfg.final_lr_fraction
    span = max(cfg.decay_steps - warm, 1)

    def schedule(count):
        s = jnp.asarray(count, jnp.float32)
        frac = jnp.clip((s - warm) / span, 0.0, 1.0)
        if cfg.decay == "linear":
            after = 1.0 - (1.0 - floor) * frac
        elif cfg.decay == "cosine":
            after = floor + (1.0 - floor) * 0.5 * (1.0 + jnp.cos(jnp.pi * frac))
        else:
            after = jnp.ones_like(s)
        mult = after if warm <= 0 else jnp.where(s < warm, (s + cfg.warmup_offset) / warm, after)
        return cfg.lr * mult

    return schedule


def make_optimizer(cfg: OptimConfig):
    """Returns (optax.GradientTransformation, schedule)."""
    schedule = lr_schedule(cfg)
    if cfg.name == "adamw":
        core = optax.adamw(schedule, b1=cfg.b1, b2=cfg.b2, eps=cfg.eps, weight_decay=cfg.weight_decay)
    else:
        core = optax.adam(schedule, b1=cfg.b1, b2=cfg.b2, eps=cfg.eps)
    parts = ([optax.clip_by_global_norm(cfg.clip_norm)] if cfg.clip_norm > 0 else []) + [core]
    tx = optax.chain(*parts)
    if cfg.grad_accum_steps > 1:
        tx = optax.MultiSteps(tx, every_k_schedule=cfg.grad_accum_steps)
    return tx, schedule


def learning_rate(schedule, step, cfg: OptimConfig):
    """The rate used at train-step `step` (MultiSteps advances the schedule once per k steps)."""
    return schedule(step // cfg.grad_accum_steps)


def compute_dtype(cfg: OptimConfig):
    return jnp.bfloat16 if cfg.mixed_precision else None


def cast_floating(tree, dtype):
    """Cast floating-point leaves to `dtype` (None: unchanged); gradients flow back through it."""
    if dtype is None:
        return tree
    return jax.tree.map(lambda x: x.astype(dtype) if jnp.issubdtype(x.dtype, jnp.floating) else x, tree)

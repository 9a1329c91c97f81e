"""MMT training loss (reference §3.3): the sum over the six fields of a mean cross-entropy.

Teacher forcing feeds rows 0..T-2 and predicts rows 1..T-1. By default padded target rows are
left out of each mean. `mask_padding=False` reproduces the reference exactly: padding rows (all
zero codes) count as targets of class 0 and every field's mean runs over all B x (T-1) positions
(rows that are pure filler, added to complete a batch, still drop out).

    make_loss_fn(model, mask_padding)  -> train_kit loss_fn(params, batch, rng), dropout on
    make_eval_fn(model, mask_padding)  -> train_kit eval_fn(params, batch), no dropout
"""

from __future__ import annotations

import jax.numpy as jnp
import optax

from mmt_jax.config import FIELDS


def teacher_forcing(seq, mask):
    """Split a padded batch [B,T,6] (+ mask [B,T]) into (inputs, targets, input_mask, target_mask)."""
    mask = mask.astype(bool)
    return seq[:, :-1], seq[:, 1:], mask[:, :-1], mask[:, 1:]


def mmt_loss(logits, targets, mask, mask_padding: bool = True):
    """logits: 6 arrays [B,T,n_i]; targets [B,T,6] int; mask [B,T] bool (True = real target).

    Returns (loss, metrics) with metrics {"loss", "loss_<field>" for each field, "tokens"}.
    """
    weights = mask.astype(jnp.float32) if mask_padding else jnp.ones(targets.shape[:2], jnp.float32)
    count = jnp.maximum(weights.sum(), 1.0)
    metrics = {}
    total = jnp.zeros((), jnp.float32)
    for i, (name, field_logits) in enumerate(zip(FIELDS, logits)):
        ce = optax.softmax_cross_entropy_with_integer_labels(
            field_logits.astype(jnp.float32), targets[..., i]
        )
        field_loss = (ce * weights).sum() / count
        metrics[f"loss_{name}"] = field_loss
        total = total + field_loss
    metrics["loss"] = total
    metrics["tokens"] = weights.sum()
    return total, metrics


def _targets_mask(batch, mask_padding):
    """Which target rows count: real rows, or (reference) every position of every real row."""
    inputs, targets, input_mask, target_mask = teacher_forcing(batch["codes"], batch["mask"])
    if not mask_padding:  # rows that are pure filler (added to complete a batch) still drop out
        real_row = batch["mask"].any(axis=1)
        target_mask = jnp.broadcast_to(real_row[:, None], target_mask.shape)
    return inputs, targets, input_mask, target_mask


def make_loss_fn(model, mask_padding=True):
    """train_kit loss_fn(params, batch, rng) -> (loss, metrics), dropout on."""

    def loss_fn(params, batch, rng):
        inputs, targets, input_mask, target_mask = _targets_mask(batch, mask_padding)
        logits = model.apply(
            {"params": params}, inputs, input_mask, deterministic=False, rngs={"dropout": rng}
        )
        return mmt_loss(logits, targets, target_mask, mask_padding=True)

    return loss_fn


def make_eval_fn(model, mask_padding=True):
    """train_kit eval_fn(params, batch) -> (loss, metrics), no dropout."""

    def eval_fn(params, batch):
        inputs, targets, input_mask, target_mask = _targets_mask(batch, mask_padding)
        logits = model.apply({"params": params}, inputs, input_mask)
        return mmt_loss(logits, targets, target_mask, mask_padding=True)

    return eval_fn

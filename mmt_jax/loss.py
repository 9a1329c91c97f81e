"""MMT training loss (spec §3.3): the sum over the six fields of a mean cross-entropy.

Teacher forcing feeds rows 0..T-2 and predicts rows 1..T-1. By default padded target rows are
left out of each mean. `mask_padding=False` reproduces the reference exactly: padding rows (all
zero codes) count as targets of class 0 and every field's mean runs over all B x (T-1) positions.
"""
from __future__ import annotations

import jax.numpy as jnp
import optax

from mmt_jax.model import FIELDS


def teacher_forcing(seq, mask):
    """Split a padded batch [B,T,6] (+ mask [B,T]) into (inputs, targets, input_mask, target_mask)."""
    mask = mask.astype(bool)
    return seq[:, :-1], seq[:, 1:], mask[:, :-1], mask[:, 1:]


def mmt_loss(logits, targets, mask, mask_padding: bool = True):
    """logits: 6 arrays [B,T,n_i]; targets [B,T,6] int; mask [B,T] bool (True = real target).

    Returns (loss, metrics) with metrics {"loss", "loss_<field>" for each field, "tokens"}.
    """
    weights = mask.astype(jnp.float32) if mask_padding else jnp.ones(targets.shape[:2],
                                                                     jnp.float32)
    count = jnp.maximum(weights.sum(), 1.0)
    metrics = {}
    total = jnp.zeros((), jnp.float32)
    for i, (name, field_logits) in enumerate(zip(FIELDS, logits)):
        ce = optax.softmax_cross_entropy_with_integer_labels(
            field_logits.astype(jnp.float32), targets[..., i])
        field_loss = (ce * weights).sum() / count
        metrics[f"loss_{name}"] = field_loss
        total = total + field_loss
    metrics["loss"] = total
    metrics["tokens"] = weights.sum()
    return total, metrics


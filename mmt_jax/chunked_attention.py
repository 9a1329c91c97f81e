"""Causal self-attention computed in query chunks, with its own backward pass (training on CPU).

    out = chunked_attention(q, k, v, lengths, scale, chunk=128)   # q, k, v [B, T, H, D]

The same function as `jax.nn.dot_product_attention(q, k, v, scale=scale, is_causal=True,
key_value_seq_lengths=lengths)`: query t sees keys s <= t with s < lengths[b] (padded query rows
see the real keys), except that a row of length 0 (filler, which no loss counts) gives zeros where
XLA's averages every value. It is faster where no fused kernel exists (XLA's CPU backend):
- query chunk i reads only keys up to its own end, so only the blocks of the score matrix on
  or below the diagonal are computed (56 % of it at T = 1024 with chunks of 128);
- the backward pass is written out (the flash-attention recurrences, with the softmax kept as
  its per-row log-sum-exp), so no [T, T] softmax Jacobian is built: reading the profile, XLA's
  autodiff of the plain softmax was half of a paper-size MMT train step;
- products take the inputs' dtype (bfloat16 in mixed precision) and accumulate in float32;
  the softmax and its statistics stay float32.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp

_F32 = jnp.float32
_MIN = jnp.finfo(_F32).min


def _dot(spec, a, b):
    return jnp.einsum(spec, a, b, preferred_element_type=_F32)


def _spans(length, chunk):
    return [(start, min(start + chunk, length)) for start in range(0, length, chunk)]


def _masked_scores(q_i, k_pre, start, lengths, scale):
    """Scores of query rows [start, start + n) against keys [0, end), float32 [B, H, n, end]."""
    n, end = q_i.shape[2], k_pre.shape[2]
    scores = _dot("bhqd,bhkd->bhqk", q_i, k_pre) * scale
    keys = jnp.arange(end)
    allowed = keys[None, :] <= (start + jnp.arange(n))[:, None]  # [n, end]
    allowed = allowed[None, None]
    if lengths is not None:
        allowed = allowed & (keys < lengths[:, None])[:, None, None, :]
    return jnp.where(allowed, scores, _MIN)


def _forward(q, k, v, lengths, scale, chunk):
    """q, k, v [B, H, T, D] -> (out [B, H, T, D] in q's dtype, log-sum-exp [B, H, T] float32)."""
    outs, lses = [], []
    for start, stop in _spans(q.shape[2], chunk):
        scores = _masked_scores(q[:, :, start:stop], k[:, :, :stop], start, lengths, scale)
        peak = jnp.max(scores, axis=-1, keepdims=True)
        weights = jnp.exp(scores - peak)
        total = jnp.sum(weights, axis=-1, keepdims=True)
        probs = (weights / total).astype(v.dtype)
        outs.append(_dot("bhqk,bhkd->bhqd", probs, v[:, :, :stop]).astype(q.dtype))
        lses.append((peak + jnp.log(total))[..., 0])
    return _empty_rows_zero(jnp.concatenate(outs, axis=2), lengths), jnp.concatenate(lses, axis=2)


def _empty_rows_zero(x, lengths):
    return x if lengths is None else jnp.where(lengths[:, None, None, None] > 0, x, jnp.zeros((), x.dtype))


@partial(jax.custom_vjp, nondiff_argnums=(4, 5))
def _attend(q, k, v, lengths, scale, chunk):
    return _forward(q, k, v, lengths, scale, chunk)[0]


def _attend_fwd(q, k, v, lengths, scale, chunk):
    out, lse = _forward(q, k, v, lengths, scale, chunk)
    return out, (q, k, v, lengths, out, lse)


def _attend_bwd(scale, chunk, residuals, d_out):
    q, k, v, lengths, out, lse = residuals
    d_out = _empty_rows_zero(d_out, lengths).astype(q.dtype)
    # D_t = sum_d dO * O: the softmax backward's row term, without the [T, T] product
    row_term = jnp.sum(d_out.astype(_F32) * out.astype(_F32), axis=-1)
    d_q, d_k, d_v = [], jnp.zeros(k.shape, _F32), jnp.zeros(v.shape, _F32)
    for start, stop in _spans(q.shape[2], chunk):
        q_i, do_i = q[:, :, start:stop], d_out[:, :, start:stop]
        k_pre, v_pre = k[:, :, :stop], v[:, :, :stop]
        scores = _masked_scores(q_i, k_pre, start, lengths, scale)
        probs = jnp.exp(scores - lse[:, :, start:stop, None])
        d_v = d_v.at[:, :, :stop].add(_dot("bhqk,bhqd->bhkd", probs.astype(q.dtype), do_i))
        d_probs = _dot("bhqd,bhkd->bhqk", do_i, v_pre)
        d_scores = (probs * (d_probs - row_term[:, :, start:stop, None]) * scale).astype(q.dtype)
        d_q.append(_dot("bhqk,bhkd->bhqd", d_scores, k_pre))
        d_k = d_k.at[:, :, :stop].add(_dot("bhqk,bhqd->bhkd", d_scores, q_i))
    d_q = jnp.concatenate(d_q, axis=2)
    d_lengths = None if lengths is None else jnp.zeros(lengths.shape, jax.dtypes.float0)
    return d_q.astype(q.dtype), d_k.astype(k.dtype), d_v.astype(v.dtype), d_lengths


_attend.defvjp(_attend_fwd, _attend_bwd)


def chunked_attention(q, k, v, lengths=None, scale=None, chunk: int = 128):
    """Causal attention of q, k, v [B, T, H, D] (keys s < lengths[b] only, when given) -> [B, T, H, D]."""
    scale = q.shape[-1] ** -0.5 if scale is None else float(scale)
    heads_first = [jnp.swapaxes(t, 1, 2) for t in (q, k, v)]
    if lengths is not None:
        lengths = jnp.asarray(lengths, jnp.int32)
    return jnp.swapaxes(_attend(*heads_first, lengths, scale, int(chunk)), 1, 2)

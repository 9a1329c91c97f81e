"""Attention over the filled prefix of a key/value cache only.

A decode step that attends over every slot of a 1,024-event cache pays for 1,024 keys whatever
the length so far. Two ways to read only the filled prefix, both with the length a traced
value (one compiled program for every length, nothing returns to the host):

* `bucket_attention` (the sampler's default): a `lax.switch` over prefixes of block, 2 block,
  4 block, ... slots, each branch one plain masked softmax over its prefix; the smallest prefix
  holding every row's last key runs. One product per call, at most twice the slots needed.
* `prefix_attention`: a `lax.fori_loop` over fixed-size blocks, as many as the longest row
  has filled, combining them with the running maximum and sum (the online softmax). It reads
  no slot more than needed, but on the 2-core CPU each block costs a few times its bytes in
  loop overhead (docs/benchmarks.md), so the buckets win there.

Scores and the softmax are float32 in both, so the result is the softmax over the allowed keys
that the whole-cache product gives.

    out = bucket_attention(q, k, v, last, block, scale)   # q [N,S,D]; k, v [N,L,D]; last [N,S]
                                                          # (or k, v tuples of blocks [N,b,D])

N is batch x heads (the cache's folded layout, see mmt_jax.model.init_cache); key j is seen by
query (n, s) iff j <= last[n, s]. Masked scores are the most negative finite float, as in the
whole-cache path. A block of a row past its own length still runs when a longer row needs it;
its keys are masked. (Cache slots are zeros beyond what was written, so masked values never
carry NaN into the products.)
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax


def block_size(length: int, block: int) -> int:
    """The block actually used for a cache of `length` slots: `block` if it divides the
    length, else one block over the whole cache (the plain path's cost)."""
    if block <= 0 or block >= length or length % block:
        return length
    return block


def prefix_attention(q, k, v, last, block: int, scale: float):
    """Softmax attention of q [N,S,D] over k, v [N,L,D] keys 0..last[n,s]; returns [N,S,D]
    in float32. Only the ceil((max(last) + 1) / block) first blocks are read."""
    n, steps, dim = q.shape
    length = k.shape[1]
    block = block_size(length, block)
    neg = jnp.finfo(jnp.float32).min
    blocks = jnp.clip((jnp.max(last) + block) // block, 1, length // block)

    def body(i, carry):
        top, total, acc = carry  # running max [N,S], sum of exp [N,S], weighted values [N,S,D]
        start = i * block
        kb = lax.dynamic_slice_in_dim(k, start, block, axis=1)
        vb = lax.dynamic_slice_in_dim(v, start, block, axis=1)
        scores = jnp.einsum("nqd,nkd->nqk", q, kb, preferred_element_type=jnp.float32) * scale
        keys = start + jnp.arange(block, dtype=last.dtype)
        scores = jnp.where(keys[None, None, :] <= last[:, :, None], scores, neg)
        new_top = jnp.maximum(top, jnp.max(scores, axis=-1))
        shrink = jnp.exp(top - new_top)
        p = jnp.exp(scores - new_top[..., None])
        total = total * shrink + jnp.sum(p, axis=-1)
        acc = acc * shrink[..., None] + jnp.einsum(
            "nqk,nkd->nqd", p.astype(vb.dtype), vb, preferred_element_type=jnp.float32
        )
        return new_top, total, acc

    init = (
        jnp.full((n, steps), neg, jnp.float32),
        jnp.zeros((n, steps), jnp.float32),
        jnp.zeros((n, steps, dim), jnp.float32),
    )
    _, total, acc = lax.fori_loop(0, blocks, body, init)
    return acc / total[..., None]


def _masked_softmax(scores, keys, last):
    scores = jnp.where(keys[None, None, :] <= last[:, :, None], scores, jnp.finfo(jnp.float32).min)
    return jax.nn.softmax(scores, axis=-1)


def bucket_attention(q, k, v, last, block: int, scale: float):
    """Like `prefix_attention`, but one plain masked softmax over the first `block * 2^j` slots,
    the smallest such prefix holding every allowed key (a `lax.switch` over the sizes): one
    product per call instead of a loop over blocks, at most twice the slots needed.

    k and v may be tuples of blocks [N, b, D] (init_cache(..., block=b)): a branch then reads
    its first blocks whole; slicing a prefix out of one array costs a copy of it every call."""
    blocked = isinstance(k, tuple)
    ends = np.cumsum([b.shape[1] for b in k]) if blocked else None
    length = int(ends[-1]) if blocked else k.shape[1]
    block = k[0].shape[1] if blocked else block_size(length, block)
    sizes = []
    size = block
    while size < length:
        sizes.append(size)
        size *= 2
    sizes.append(length)
    needed = jnp.max(last) + 1
    which = jnp.sum(jnp.asarray(sizes[:-1]) < needed)

    def product(spec, a, b):
        return jnp.einsum(spec, a, b, preferred_element_type=jnp.float32)

    def attend(size):
        def run(q, k, v, last):
            keys = jnp.arange(size, dtype=last.dtype)
            if not blocked:
                kb, vb = k[:, :size], v[:, :size]
                probs = _masked_softmax(product("nqd,nkd->nqk", q, kb) * scale, keys, last)
                return product("nqk,nkd->nqd", probs.astype(vb.dtype), vb)
            used = int(np.searchsorted(ends, size, side="right"))  # blocks ending within size
            scores = jnp.concatenate([product("nqd,nkd->nqk", q, kb) for kb in k[:used]], axis=-1)
            probs = _masked_softmax(scores * scale, keys, last).astype(v[0].dtype)
            parts = jnp.split(probs, [int(e) for e in ends[: used - 1]], axis=-1)
            return sum(product("nqk,nkd->nqd", p, vb) for p, vb in zip(parts, v[:used]))

        return run

    return lax.switch(which, [attend(n) for n in sizes], q, k, v, last)


PREFIX_MODES = ("buckets", "blocks")


def prefix_attend(q, k, v, last, block, scale):
    """`bucket_attention` or `prefix_attention` by block = (mode, size)."""
    mode, size = block
    if mode == "buckets":
        return bucket_attention(q, k, v, last, size, scale)
    if isinstance(k, tuple):  # the loop slices one array
        k, v = jnp.concatenate(k, axis=1), jnp.concatenate(v, axis=1)
    return prefix_attention(q, k, v, last, size, scale)


def repeat_heads(x: jax.Array, heads: int) -> jax.Array:
    """[B, ...] -> [B*heads, ...], row b*heads + h = x[b] (the folded cache's row order)."""
    return jnp.repeat(x, heads, axis=0)

"""The Multitrack Music Transformer: a decoder-only transformer over 6-field events (reference §2).

Six summed field embeddings (+ a scaled learned position table) go through pre-LayerNorm blocks of
causal self-attention and a GELU feed-forward; a final LayerNorm feeds six untied heads, one per
field. Numerics follow x-transformers 0.25.9 as the reference uses it: bias-free q/k/v, masked scores
filled with the most negative finite float (so a fully masked row becomes uniform, as in the
reference), softmax in float32, exact (erf) GELU, LayerNorm eps 1e-5, PyTorch-default inits.

`MusicTransformer.__call__` is the full causal forward pass used in training; `decode` runs the same
weights over an explicit key/value cache (`init_cache`), writing S new positions per call, so a
parallel prefill followed by one-event steps reproduces the full pass's logits; with `block` it
reads only the filled prefix of the cache (mmt_jax.prefix_attention). Every product
accumulates in float32, so with bfloat16 weights (`dtype`) the residual stream, norms and
softmax stay float32. Training options: `attention="dot_product"` (fused attention, cuDNN on
GPU) and `remat` (rematerialisation policy per block), see mmt_jax.config. Each layer's
post-softmax attention [B, heads, T, T] is sown as intermediates/blocks_<j>/attn/attention:
`logits, state = model.apply(params, codes, mutable=["intermediates"])`. The settings, `MMTConfig`,
live in mmt_jax.config (JAX-free, for config files) and are re-exported here.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
from flax import linen as nn
from jax import lax

from mmt_jax.chunked_attention import chunked_attention
from mmt_jax.config import ATTENTIONS, FIELDS, POS_EMBS, REMATS, MMTConfig  # noqa: F401  (re-exported)
from mmt_jax.prefix_attention import PREFIX_MODES, block_size, prefix_attend, repeat_heads

# Products take `dtype` inputs and accumulate (and return) float32: with bfloat16 weights the
# residual stream, the norms and the softmax stay float32; with float32 nothing changes.
_F32 = jnp.float32


def _dot_general_f32(*args, **kwargs):
    return lax.dot_general(*args, **kwargs, preferred_element_type=_F32)


def _einsum(spec, *operands):
    return jnp.einsum(spec, *operands, preferred_element_type=_F32)


# ----------------------------------------------------------------------------- initialisers


def _torch_uniform(fan_in: int):
    """PyTorch's default Linear init (weight and bias): U(-1/sqrt(fan_in), 1/sqrt(fan_in))."""
    bound = 1.0 / math.sqrt(fan_in)

    def init(key, shape, dtype=jnp.float32):
        return jax.random.uniform(key, shape, dtype, -bound, bound)

    return init


def _param(module: nn.Module, name: str, init, shape, axes, dtype):
    return module.param(name, nn.with_logical_partitioning(init, axes), shape, dtype)


def _layer_norm(cfg: MMTConfig, name: str | None = None) -> nn.LayerNorm:
    return nn.LayerNorm(
        epsilon=1e-5,
        dtype=cfg.dtype,
        param_dtype=cfg.param_dtype,
        name=name,
        scale_init=nn.with_logical_partitioning(nn.initializers.ones, ("embed",)),
        bias_init=nn.with_logical_partitioning(nn.initializers.zeros, ("embed",)),
    )


def _dense(cfg: MMTConfig, features: int, in_axis: str, out_axis: str, name: str | None = None) -> nn.Dense:
    # fan_in is the input width; the bias bound uses it too, as PyTorch does.
    fan_in = cfg.dim if in_axis == "embed" else cfg.dim * cfg.ff_mult
    init = _torch_uniform(fan_in)
    return nn.Dense(
        features,
        dtype=cfg.dtype,
        param_dtype=cfg.param_dtype,
        name=name,
        kernel_init=nn.with_logical_partitioning(init, (in_axis, out_axis)),
        bias_init=nn.with_logical_partitioning(init, (out_axis,)),
        dot_general=_dot_general_f32,
    )


# ----------------------------------------------------------------------------- rotary


def rotary(x: jax.Array, positions: jax.Array, rot_dim: int) -> jax.Array:
    """x-transformers 0.25.9 rotary: rotate the first `rot_dim` dims of each head.

    x: [B, S, H, D]; positions: [B, S] absolute positions. Frequencies 10000^(-2i/rot_dim)
    are repeated for both halves and the rotation pairs dim i with dim i + rot_dim/2.
    """
    inv_freq = 1.0 / (10000.0 ** (np.arange(0, rot_dim, 2, dtype=np.float32) / rot_dim))
    angles = positions.astype(jnp.float32)[..., None] * inv_freq  # [B, S, rot/2]
    angles = jnp.concatenate([angles, angles], axis=-1)[:, :, None, :]  # [B, S, 1, rot]
    rot, rest = x[..., :rot_dim].astype(jnp.float32), x[..., rot_dim:]
    half1, half2 = jnp.split(rot, 2, axis=-1)
    rotated = rot * jnp.cos(angles) + jnp.concatenate([-half2, half1], axis=-1) * jnp.sin(angles)
    return jnp.concatenate([rotated.astype(x.dtype), rest], axis=-1)


# ----------------------------------------------------------------------------- layers


class SelfAttention(nn.Module):
    """Multi-head causal self-attention; optionally reads/writes one layer of a KV cache."""

    config: MMTConfig

    @nn.compact
    def __call__(self, x, positions, allowed, kv_write=None, deterministic=True, lengths=None, block=0):
        """x [B,S,dim]; positions [B,S]; allowed [B,S,K] bool (True = may attend).

        Without `kv_write`, keys/values are this call's own (K = S); `lengths` [B] (real rows,
        right-padded) serves `config.attention == "dot_product"`. With it, `kv_write(k, v) ->
        (k_all, v_all)` stores the new rows in the cache and returns the whole cache layer to
        attend over, heads folded into the batch: [B*H, L, D]; a `block` (mode, size) then reads
        only the cache's prefix holding the last allowed key (`allowed` is then [B,S] = that key).
        """
        cfg = self.config
        shape = (cfg.dim, cfg.heads, cfg.head_dim)
        axes = ("embed", "heads", "kv")
        init = _torch_uniform(cfg.dim)
        x = x.astype(cfg.dtype)
        w_qkv = [
            _param(self, name, init, shape, axes, cfg.param_dtype).astype(cfg.dtype)
            for name in ("query", "key", "value")
        ]
        if kv_write is not None:  # decoding: one product for q, k and v (the concatenation is loop-invariant)
            q, k, v = jnp.split(_einsum("bsd,dhk->bshk", x, jnp.concatenate(w_qkv, axis=1)), 3, axis=2)
        else:
            q, k, v = (_einsum("bsd,dhk->bshk", x, w) for w in w_qkv)
        if cfg.pos_emb == "rotary":
            # The reference rotates values too (x-transformers 0.25.9 applies it to q, k and v).
            q, k, v = (rotary(t, positions, cfg.rotary_dims) for t in (q, k, v))
        q, k, v = (t.astype(cfg.dtype) for t in (q, k, v))
        batch, steps = q.shape[:2]
        scale = cfg.head_dim**-0.5
        if kv_write is not None and block:  # decoding over the filled prefix only
            k, v = kv_write(k, v)
            out = prefix_attend(_fold_heads(q), k, v, repeat_heads(allowed, cfg.heads), block, scale)
            out = jnp.swapaxes(out.reshape(batch, cfg.heads, steps, -1), 1, 2).astype(cfg.dtype)
        elif kv_write is None and cfg.attention == "chunked":  # dot_product's function, see its module
            out = chunked_attention(q, k, v, lengths, scale)
        elif kv_write is None and cfg.attention == "dot_product":
            # cuDNN's fused kernel on GPU (implementation=None picks it for bf16/f16), XLA's
            # elsewhere. Causal + key lengths: padded query rows see the real keys, not the
            # reference's uniform row; only the padded rows differ (loss.mask_padding=True
            # leaves them out). Fused kernels have no dropout on the attention probabilities
            # and give no maps, so neither happens on this path.
            out = jax.nn.dot_product_attention(
                q, k, v, scale=scale, is_causal=True, key_value_seq_lengths=lengths, implementation=None
            )
        else:
            if kv_write is None:
                scores = _einsum("bqhd,bkhd->bhqk", q, k)
            else:  # decoding: heads folded into the batch, the cache's layout (see init_cache)
                k, v = kv_write(k, v)
                scores = _einsum("nqd,nkd->nqk", _fold_heads(q), k)
                scores = scores.reshape(batch, cfg.heads, steps, -1)
            scores = scores * scale
            scores = jnp.where(allowed[:, None], scores, jnp.finfo(jnp.float32).min)
            probs = jax.nn.softmax(scores, axis=-1)
            # Attention maps for analysis (reference §7): apply(..., mutable=["intermediates"]).
            self.sow("intermediates", "attention", probs)
            probs = nn.Dropout(cfg.dropout)(probs, deterministic=deterministic).astype(cfg.dtype)
            if kv_write is None:
                out = jnp.einsum("bhqk,bkhd->bqhd", probs, v)
            else:
                out = jnp.einsum("nqk,nkd->nqd", probs.reshape(batch * cfg.heads, steps, -1), v)
                out = jnp.swapaxes(out.reshape(batch, cfg.heads, steps, -1), 1, 2)
        out_init = _torch_uniform(cfg.inner_dim)
        w_out = _param(
            self,
            "out_kernel",
            out_init,
            (cfg.heads, cfg.head_dim, cfg.dim),
            ("heads", "kv", "embed"),
            cfg.param_dtype,
        )
        b_out = _param(self, "out_bias", out_init, (cfg.dim,), ("embed",), cfg.param_dtype)
        return _einsum("bshk,hkd->bsd", out.astype(cfg.dtype), w_out.astype(cfg.dtype)) + b_out.astype(_F32)


class FeedForward(nn.Module):
    config: MMTConfig

    @nn.compact
    def __call__(self, x, deterministic=True):
        cfg = self.config
        h = _dense(cfg, cfg.dim * cfg.ff_mult, "embed", "mlp", "wi")(x)
        h = nn.gelu(h, approximate=False)
        h = nn.Dropout(cfg.dropout)(h, deterministic=deterministic)
        return _dense(cfg, cfg.dim, "mlp", "embed", "wo")(h)


class Block(nn.Module):
    config: MMTConfig

    @nn.compact
    def __call__(self, x, positions, allowed, kv_write=None, deterministic=True, lengths=None, block=0):
        cfg = self.config
        x = x + SelfAttention(cfg, name="attn")(
            _layer_norm(cfg, "attn_norm")(x), positions, allowed, kv_write, deterministic, lengths, block
        )
        x = x + FeedForward(cfg, name="ff")(_layer_norm(cfg, "ff_norm")(x), deterministic)
        return nn.with_logical_constraint(x, ("batch", "length", "embed"))


# what the backward pass keeps of a block (MMTConfig.remat); "none": no rematerialisation
_REMAT_POLICIES = {
    "full": jax.checkpoint_policies.nothing_saveable,
    "dots": jax.checkpoint_policies.checkpoint_dots,
    "dots_no_batch": jax.checkpoint_policies.dots_with_no_batch_dims_saveable,
}


def _block_class(cfg: MMTConfig):
    if cfg.remat == "none":
        return Block
    # kv_write, deterministic and block (arguments 4, 5, 7, counting self) are not arrays
    return nn.remat(Block, policy=_REMAT_POLICIES[cfg.remat], static_argnums=(4, 5, 7))


# ----------------------------------------------------------------------------- cache


def init_cache(config: MMTConfig, batch_size: int, max_len: int | None = None, dtype=None, block: int = 0):
    """An empty KV cache: one {"k", "v"} pair per layer, each [B, heads, max_len, head_dim].

    One pair per layer is updated in place (a stacked [depth, ...] array cost a copy of the
    whole cache per layer and step). A decode step views a layer as [B*heads, max_len,
    head_dim] (a free reshape), writes the new rows there and hands that very array to the
    attention's products, so XLA updates it in place. Written and read through a [B, L, H, D]
    or [B, H, L, D] view instead, XLA copied every layer once or twice per step: paper model,
    2-core CPU, batch 1, one sampling step 5.4 ms against 2.7 ms now.

    block > 0 (dividing max_len): keys and values are each a tuple of arrays [B, heads, n,
    head_dim], n from `block_sizes`, the blocked layout of prefix attention: a step reads
    whole blocks, where slicing a prefix out of one array made XLA copy it every step (at batch
    8 those copies were most of a step's attention time on the 2-core CPU).
    """
    length = max_len or config.max_seq_len
    dtype = config.dtype if dtype is None else dtype
    sizes = block_sizes(length, block)

    def zeros():
        arrays = tuple(jnp.zeros((batch_size, config.heads, n, config.head_dim), dtype) for n in sizes)
        return arrays if len(arrays) > 1 else arrays[0]

    return tuple({"k": zeros(), "v": zeros()} for _ in range(config.depth))


def block_sizes(length: int, block: int) -> tuple[int, ...]:
    """Slots per block of a blocked cache: doubling (b, b, 2b, 4b, ...) when length = b * 2^k,
    so each prefix bucket (b, 2b, 4b, ...) is its first blocks, at most k + 1 of them (fewer,
    larger products); else equal blocks of b; one block when b is 0 or does not divide."""
    block = block_size(length, block)
    if block == length:
        return (length,)
    count = length // block
    if count & (count - 1) == 0:
        return (block,) + tuple(block << j for j in range(count.bit_length() - 1))
    return (block,) * count


def _split_blocks(whole, like):
    """[B, H, L, D] -> blocks shaped as the tuple `like`."""
    ends = np.cumsum([b.shape[2] for b in like])[:-1]
    return tuple(jnp.split(whole, [int(e) for e in ends], axis=2))


def cache_length(cache) -> int:
    """Slots in each row of a cache (either layout)."""
    k = cache[0]["k"]
    return sum(b.shape[2] for b in k) if isinstance(k, tuple) else k.shape[2]


def merge_prefix(cache, fresh, rows):
    """`cache` with its first slots replaced by `fresh` (a shorter cache of the same layout and
    block size) in the rows where rows [B] is True; in place."""
    row = rows[:, None, None, None]

    def merge(old, new):
        if isinstance(old, tuple):
            new = new if isinstance(new, tuple) else (new,)
            if all(n.shape == o.shape for n, o in zip(new, old)):  # whole blocks: in place
                return tuple(merge(o, n) for o, n in zip(old, new)) + old[len(new) :]
            return _split_blocks(merge(jnp.concatenate(old, axis=2), jnp.concatenate(new, axis=2)), old)
        size = new.shape[2]
        return old.at[:, :, :size].set(jnp.where(row, new, old[:, :, :size]))

    return tuple({n: merge(old[n], new[n]) for n in ("k", "v")} for old, new in zip(cache, fresh))


def _fold_heads(x: jax.Array) -> jax.Array:
    """[B, S, H, D] -> [B*H, S, D]."""
    return jnp.swapaxes(x, 1, 2).reshape(-1, x.shape[1], x.shape[3])


def _write_rows(cache: jax.Array, new: jax.Array, index: jax.Array) -> jax.Array:
    """Rows new [B,S,H,D] into cache [B,H,L,D] at per-row offsets index [B]; returns the
    updated cache folded to [B*H, L, D]."""
    heads = cache.shape[1]
    folded = cache.reshape(-1, *cache.shape[2:])
    return jax.vmap(lambda c, u, i: lax.dynamic_update_slice_in_dim(c, u, i, axis=0))(
        folded, _fold_heads(new).astype(cache.dtype), jnp.repeat(index, heads)
    )


def _write_blocks(blocks: tuple, new: jax.Array, index: jax.Array):
    """One row new [B,1,H,D] into a blocked cache layer at per-row slots index [B]; returns
    (the blocks [B,H,b,D], the same blocks folded to [B*H, b, D]). Each block takes the rows
    whose slot falls in it; the others' updates are dropped (out-of-range scatter index)."""
    heads = blocks[0].shape[1]
    rows = _fold_heads(new)[:, 0]  # [B*H, D]
    slot = jnp.repeat(index, heads)
    n = jnp.arange(rows.shape[0])
    written, folded, start = [], [], 0
    for b in blocks:
        size = b.shape[2]
        local = slot - start
        local = jnp.where((local >= 0) & (local < size), local, size)  # size: dropped
        start += size
        f = b.reshape(-1, size, b.shape[3]).at[n, local].set(rows.astype(b.dtype), mode="drop")
        folded.append(f)
        written.append(f.reshape(b.shape))
    return tuple(written), tuple(folded)


# ----------------------------------------------------------------------------- model


class MusicTransformer(nn.Module):
    config: MMTConfig

    def setup(self):
        cfg = self.config
        emb_init = nn.initializers.normal(math.sqrt(2.0 / cfg.dim))  # kaiming-normal, fan_in=dim
        self.token_emb = [
            nn.Embed(
                n,
                cfg.dim,
                dtype=cfg.dtype,
                param_dtype=cfg.param_dtype,
                embedding_init=nn.with_logical_partitioning(emb_init, ("vocab", "embed")),
            )
            for n in cfg.vocab_sizes
        ]
        if cfg.pos_emb == "absolute":
            self.pos_emb = nn.Embed(
                cfg.max_seq_len,
                cfg.dim,
                dtype=cfg.dtype,
                param_dtype=cfg.param_dtype,
                embedding_init=nn.with_logical_partitioning(nn.initializers.normal(1.0), (None, "embed")),
            )
        block = _block_class(cfg)
        self.blocks = [block(cfg) for _ in range(cfg.depth)]
        self.final_norm = _layer_norm(cfg)
        self.heads = [_dense(cfg, n, "embed", "vocab") for n in cfg.vocab_sizes]
        self.emb_dropout = nn.Dropout(cfg.dropout)

    def _embed(self, codes, positions, deterministic):
        cfg = self.config
        x = sum(emb(codes[..., i]).astype(_F32) for i, emb in enumerate(self.token_emb))
        if cfg.pos_emb == "absolute":
            x = x + self.pos_emb(positions).astype(_F32) * (cfg.dim**-0.5)
        x = self.emb_dropout(x, deterministic=deterministic)
        return nn.with_logical_constraint(x, ("batch", "length", "embed"))

    def _logits(self, x):
        x = self.final_norm(x)
        return tuple(head(x).astype(jnp.float32) for head in self.heads)

    def __call__(self, codes, mask=None, deterministic: bool = True):
        """Full causal forward: codes [B,T,6] int, mask [B,T] bool key-padding -> 6 logits.

        Like the reference, a padded query row has every key masked and so attends uniformly
        over the whole row; real rows are unaffected by right padding.
        """
        batch, length = codes.shape[:2]
        positions = jnp.broadcast_to(jnp.arange(length), (batch, length))
        allowed = jnp.tril(jnp.ones((length, length), bool))[None]
        if mask is not None:
            mask = mask.astype(bool)
            allowed = allowed & mask[:, :, None] & mask[:, None, :]
        allowed = jnp.broadcast_to(allowed, (batch, length, length))
        lengths = None if mask is None else jnp.sum(mask, axis=1, dtype=jnp.int32)
        x = self._embed(codes, positions, deterministic)
        for block in self.blocks:
            x = block(x, positions, allowed, None, deterministic, lengths, 0)
        return self._logits(x)

    def decode(self, codes, cache, index, lengths=None, block=0, prefix="buckets"):
        """Run S new events through the KV cache (prefill when S > 1, one step when S = 1).

        codes [B,S,6]; cache from `init_cache`; index: absolute position of codes[:, 0], a traced
        int scalar or a per-row [B] array; lengths: optional [B] count of real rows in `codes`
        (keys beyond them are masked). Positions index..index+S-1 of the cache are overwritten
        and each new row attends to cache positions <= its own. Requires index + S <= cache
        length (and < max_seq_len for the absolute table). block > 0: attention reads only a
        prefix of the cache holding the longest row's last key (mmt_jax.prefix_attention:
        prefix="buckets", block * 2^j slots, or "blocks", a loop over blocks of that size), so a
        step's cost grows with the filled length; 0: every slot, masked. Returns (6 logits
        [B,S,n_i], cache).
        """
        batch, steps = codes.shape[:2]
        max_len = cache_length(cache)
        index = jnp.broadcast_to(jnp.asarray(index, jnp.int32), (batch,))
        positions = index[:, None] + jnp.arange(steps, dtype=jnp.int32)[None]  # [B,S]
        if prefix not in PREFIX_MODES:
            raise ValueError(f"prefix must be one of {PREFIX_MODES}, got {prefix!r}")
        blocked = isinstance(cache[0]["k"], tuple)
        if blocked and not block:
            raise ValueError(
                "a blocked cache (init_cache(..., block=...)) needs prefix attention (block > 0)"
            )
        if block:  # the last key each query sees
            allowed = positions
            if lengths is not None:
                allowed = jnp.minimum(allowed, (index + jnp.asarray(lengths, jnp.int32))[:, None] - 1)
        else:
            key_pos = jnp.arange(max_len, dtype=jnp.int32)[None, None, :]
            allowed = key_pos <= positions[:, :, None]  # [B,S,L]
            if lengths is not None:
                allowed &= key_pos < (index + jnp.asarray(lengths, jnp.int32))[:, None, None]
        x = self._embed(codes, positions, deterministic=True)
        block_size, new_cache = ((prefix, block) if block else 0), []
        for layer, block in zip(cache, self.blocks):
            written = {}

            def kv_write(k, v, layer=layer, written=written):
                if blocked and steps == 1:  # a decoding step: whole blocks, no copies
                    out = {n: _write_blocks(layer[n], t, index) for n, t in (("k", k), ("v", v))}
                    written.update({n: out[n][0] for n in out})
                    return out["k"][1], out["v"][1]
                # a prefill (or the single-array layout): one array per layer
                whole = {n: jnp.concatenate(layer[n], axis=2) if blocked else layer[n] for n in ("k", "v")}
                k_all, v_all = (_write_rows(whole[n], t, index) for n, t in (("k", k), ("v", v)))
                for n, t in (("k", k_all), ("v", v_all)):
                    t = t.reshape(whole[n].shape)
                    written[n] = _split_blocks(t, layer[n]) if blocked else t
                return k_all, v_all  # in the cache's dtype: a cast would copy the layer

            x = block(x, positions, allowed, kv_write, True, None, block_size)
            new_cache.append(written)
        return self._logits(x), tuple(new_cache)


def count_params(params) -> int:
    return sum(int(np.prod(x.shape)) for x in jax.tree_util.tree_leaves(params))


def abstract_params(config: MMTConfig, seq_len: int = 8):
    """Parameter shapes (boxed with logical axis names) without allocating anything."""
    model = MusicTransformer(config)
    codes = jax.ShapeDtypeStruct((1, seq_len, len(FIELDS)), jnp.int32)
    return jax.eval_shape(lambda c: model.init(jax.random.key(0), c), codes)["params"]

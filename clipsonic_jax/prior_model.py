"""DALL-E 2's diffusion prior network in Flax Linen, numerically matching DALLE2-pytorch's
DiffusionPriorNetwork (reference §4.1).

A causal transformer over the tokens [text encodings (max_text_len), text embedding, time
embedding, noised image embedding, learned query]; the last token's output is the prediction (the
clean image embedding with x0 prediction). Each layer: pre-LN (no bias) multi-query attention —
`to_q` per head, one shared K/V head from `to_kv`, a learned null key/value prepended — with
cosine-similarity logits times 16, rotary embedding on q and k, T5-style relative position bias
and a causal mask; then LN -> Linear -> SwiGLU -> LN (normformer) -> Linear. A final "stable"
LayerNorm and a projection. Learned null tensors replace the text and image tokens whose keep
flag is False (classifier-free guidance); padding of the text encodings (all-zero rows) is
replaced by position-wise learned null encodings.

    net = PriorNetwork(PriorNetConfig.tiny())
    params = init_params(net, rng)                                  # boxed (logical axis names)
    x0 = net.apply({"params": unbox(params)}, x_t [B, D], t [B], text_embed [B, D],
                   text_enc [B, L, D], keep_text [B], keep_image [B])          # [B, D]

Parameter names follow the PyTorch module tree (prior_import.py maps them one to one).
"""

from __future__ import annotations

import math

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from clipsonic_jax.prior_config import PriorNetConfig

_normal = nn.initializers.normal(1.0)  # torch.randn for the learned tensors


def _param(module, name, init, shape, axes):
    return module.param(name, nn.with_logical_partitioning(init, axes), shape)


def _dense(features, name, axes):
    return nn.Dense(
        features,
        use_bias=False,
        name=name,
        kernel_init=nn.with_logical_partitioning(nn.initializers.lecun_normal(), axes),
    )


class LayerNorm(nn.Module):
    """LayerNorm with a gain and no bias; `stable` divides by the row maximum first."""

    stable: bool = False

    @nn.compact
    def __call__(self, x):
        g = _param(self, "g", nn.initializers.ones, (x.shape[-1],), ("norm",))
        eps = 1e-5 if x.dtype == jnp.float32 else 1e-3
        if self.stable:
            x = x / jax.lax.stop_gradient(jnp.max(x, axis=-1, keepdims=True))
        mean = jnp.mean(x, axis=-1, keepdims=True)
        var = jnp.mean(jnp.square(x - mean), axis=-1, keepdims=True)
        return (x - mean) * jax.lax.rsqrt(var + eps) * g.astype(x.dtype)


def rel_pos_buckets(n_q, n_k, num_buckets, max_distance):
    """int [n_q, n_k] T5 buckets of k - q, causal (only the past is told apart), computed in
    float32 like the reference so bucket edges agree."""
    rel = np.arange(n_k)[None, :] - np.arange(n_q)[:, None]
    n = np.maximum(-rel, 0)
    max_exact = num_buckets // 2
    with np.errstate(divide="ignore"):
        large = np.log(n.astype(np.float32) / np.float32(max_exact)) / np.float32(
            math.log(max_distance / max_exact)
        )
        large = max_exact + np.trunc(large * np.float32(num_buckets - max_exact))
    large = np.minimum(np.nan_to_num(large, neginf=0.0), num_buckets - 1).astype(np.int32)
    return np.where(n < max_exact, n, large).astype(np.int32)


def rotary(x, rot_dim, positions):
    """Rotate interleaved channel pairs of x[..., :rot_dim] by position * theta^(-2i/rot_dim)."""
    freqs = 1.0 / (10000.0 ** (np.arange(0, rot_dim, 2)[: rot_dim // 2].astype(np.float32) / rot_dim))
    ang = jnp.asarray(np.repeat(positions[:, None].astype(np.float32) * freqs[None], 2, axis=-1))
    head, tail = x[..., :rot_dim], x[..., rot_dim:]
    pairs = head.reshape(*head.shape[:-1], rot_dim // 2, 2)
    rotated = jnp.stack([-pairs[..., 1], pairs[..., 0]], axis=-1).reshape(head.shape)
    head = head * jnp.cos(ang).astype(x.dtype) + rotated * jnp.sin(ang).astype(x.dtype)
    return jnp.concatenate([head, tail], axis=-1)


def _l2norm(x):
    return x / jnp.maximum(jnp.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


class Attention(nn.Module):
    cfg: PriorNetConfig

    @nn.compact
    def __call__(self, x, bias, deterministic=True):
        cfg = self.cfg
        b, n, _ = x.shape
        h, d = cfg.heads, cfg.dim_head
        x = LayerNorm(name="norm")(x)
        q = _dense(h * d, "to_q", ("embed", "joined_kv"))(x).reshape(b, n, h, d).transpose(0, 2, 1, 3)
        kv = _dense(2 * d, "to_kv", ("embed", "kv"))(x)
        k, v = kv[..., :d], kv[..., d:]
        if cfg.rotary_emb:
            pos = np.arange(n)
            q, k = rotary(q, min(32, d), pos), rotary(k, min(32, d), pos)
        null_kv = _param(self, "null_kv", _normal, (2, d), (None, "kv")).astype(x.dtype)
        k = jnp.concatenate([jnp.broadcast_to(null_kv[0], (b, 1, d)), k], axis=1)
        v = jnp.concatenate([jnp.broadcast_to(null_kv[1], (b, 1, d)), v], axis=1)
        # cosine-similarity attention: unit q and k, logits times a fixed scale
        sim = jnp.einsum("bhid,bjd->bhij", _l2norm(q), _l2norm(k)) * cfg.cosine_sim_scale
        sim = sim + bias.astype(sim.dtype)
        future = np.triu(np.ones((n, n + 1), bool), 2)  # key j (after the null) is position j-1
        sim = jnp.where(future, -jnp.finfo(sim.dtype).max, sim)
        attn = jax.nn.softmax(sim.astype(jnp.float32), axis=-1).astype(sim.dtype)
        attn = nn.Dropout(cfg.attn_dropout)(attn, deterministic=deterministic)
        out = jnp.einsum("bhij,bjd->bhid", attn, v).transpose(0, 2, 1, 3).reshape(b, n, h * d)
        out = _dense(cfg.dim, "to_out_0", ("joined_kv", "embed"))(out)
        return LayerNorm(name="to_out_1")(out)


class FeedForward(nn.Module):
    cfg: PriorNetConfig

    @nn.compact
    def __call__(self, x, deterministic=True):
        cfg = self.cfg
        inner = cfg.ff_mult * cfg.dim
        x = _dense(2 * inner, "proj_in", ("embed", "mlp"))(LayerNorm(name="norm_in")(x))
        x = x[..., :inner] * nn.silu(x[..., inner:])  # SwiGLU: value, gate
        if cfg.normformer:
            x = LayerNorm(name="norm_mid")(x)
        x = nn.Dropout(cfg.ff_dropout)(x, deterministic=deterministic)
        return _dense(cfg.dim, "proj_out", ("mlp", "embed"))(x)


class CausalTransformer(nn.Module):
    cfg: PriorNetConfig

    @nn.compact
    def __call__(self, x, deterministic=True):
        cfg = self.cfg
        n = x.shape[1]
        if cfg.norm_in:
            x = LayerNorm(name="init_norm")(x)
        table = nn.Embed(
            cfg.rel_pos_buckets,
            cfg.heads,
            name="rel_pos_bias",
            embedding_init=nn.with_logical_partitioning(_normal, (None, "heads")),
        )
        buckets = rel_pos_buckets(n, n + 1, cfg.rel_pos_buckets, cfg.rel_pos_max_distance)
        bias = table(jnp.asarray(buckets)).transpose(2, 0, 1)  # [heads, n, n + 1]
        for i in range(cfg.depth):
            x = x + Attention(cfg, name=f"attn_{i}")(x, bias, deterministic)
            x = x + FeedForward(cfg, name=f"ff_{i}")(x, deterministic)
        if cfg.norm_out:
            x = LayerNorm(stable=True, name="norm")(x)
        if cfg.final_proj:
            x = _dense(cfg.dim, "project_out", ("embed", "mlp"))(x)
        return x


class PriorNetwork(nn.Module):
    cfg: PriorNetConfig

    @nn.compact
    def __call__(self, x_t, t, text_embed, text_enc, keep_text, keep_image, deterministic=True):
        """x_t [B, D] the noised (scaled) image embedding, t int [B], text_embed [B, D] (unit),
        text_enc [B, L, D] or None (CLIP text hidden states, zero after EOS), keep_* bool [B]."""
        cfg = self.cfg
        b, d, dtype = x_t.shape[0], cfg.dim, x_t.dtype
        query = _param(self, "learned_query", _normal, (d,), ("embed",))
        null_enc = _param(
            self, "null_text_encodings", _normal, (1, cfg.max_text_len, d), (None, None, "embed")
        )
        null_txt = _param(self, "null_text_embeds", _normal, (1, 1, d), (None, None, "embed"))
        null_img = _param(self, "null_image_embed", _normal, (1, d), (None, "embed"))
        time = nn.Embed(
            cfg.num_timesteps,
            d,
            name="to_time_embeds",
            embedding_init=nn.with_logical_partitioning(_normal, ("vocab", "embed")),
        )

        if text_enc is None:
            text_enc = jnp.zeros((b, cfg.max_text_len, d), dtype)
        text_enc = text_enc[:, : cfg.max_text_len].astype(dtype)
        pad = cfg.max_text_len - text_enc.shape[1]
        if pad:
            text_enc = jnp.pad(text_enc, ((0, 0), (0, pad), (0, 0)))
        present = jnp.any(text_enc != 0, axis=-1, keepdims=True)  # padding rows are all zero
        kt, ki = keep_text[:, None, None], keep_image[:, None, None]
        text_enc = jnp.where(present & kt, text_enc, null_enc.astype(dtype))
        txt = jnp.where(kt, text_embed[:, None].astype(dtype), null_txt.astype(dtype))
        img = jnp.where(ki, x_t[:, None], null_img[:, None].astype(dtype))
        tokens = jnp.concatenate(
            [
                text_enc,
                txt,
                time(t)[:, None].astype(dtype),
                img,
                jnp.broadcast_to(query.astype(dtype), (b, 1, d)),
            ],
            axis=1,
        )
        tokens = nn.with_logical_constraint(tokens, ("batch", "length", "embed"))
        return CausalTransformer(cfg, name="causal_transformer")(tokens, deterministic)[:, -1]


def init_params(net: PriorNetwork, rng, rows=1):
    """Boxed parameters of `net` from a zero batch of `rows`."""
    d = net.cfg.dim
    z = jnp.zeros((rows, d), jnp.float32)
    return net.init(
        rng,
        z,
        jnp.zeros((rows,), jnp.int32),
        z,
        jnp.zeros((rows, net.cfg.max_text_len, d), jnp.float32),
        jnp.ones((rows,), bool),
        jnp.ones((rows,), bool),
    )["params"]

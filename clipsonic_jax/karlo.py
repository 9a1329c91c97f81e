"""Kakao Brain's Karlo prior (diffusers `PriorTransformer`, reference §4.2) in Flax, with its
safetensors importer. Its layout differs from DALLE2-pytorch's (a wider inner width, learned
absolute positions, a `prd` token, biased projections, GELU feed-forward, standard attention), so
it is its own small network.

Tokens: [projected text encodings (num_embeddings), projected text embedding, time embedding
(sinusoidal, cos first, then a SiLU MLP), projected noised image embedding, prd] + learned
positions; pre-LN blocks with an additive causal mask of -10000 and padding masked likewise;
final LayerNorm; the prd token's output projected back to the CLIP width. Outputs live in Karlo's
normalised space: un-normalise with `params["clip_mean"]`/`["clip_std"]` (post_process).

    cfg = infer_config(sd)                 # sd: {name: array} of diffusion_pytorch_model.safetensors
    params = import_karlo(sd, cfg)
    out = KarloPrior(cfg).apply({"params": params}, x_t, t, text_embed, text_enc, text_mask)

diffusers applies the causal mask only when a text mask is passed (its pipeline always passes
one); here it always applies, with an all-True mask when none is given.
"""

from __future__ import annotations

import dataclasses
import math
import re

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from music_codecs.errors import UserError


@dataclasses.dataclass(frozen=True)
class KarloConfig:
    heads: int = 32
    head_dim: int = 64
    layers: int = 20
    embedding_dim: int = 768
    num_embeddings: int = 77
    additional_embeddings: int = 4
    time_embed_dim: int = 0  # 0: heads * head_dim
    clip_embed_dim: int = 0  # 0: embedding_dim
    norm_in: bool = False
    embedding_proj_norm: bool = False
    encoder_hid_proj: bool = True
    prd: bool = True

    @property
    def inner(self):
        return self.heads * self.head_dim


def _dense(features, name, use_bias=True):
    return nn.Dense(features, use_bias=use_bias, name=name)


def timestep_features(t, dim):
    """diffusers' sinusoidal embedding with flip_sin_to_cos=True, shift 0: [cos, sin]."""
    half = dim // 2
    freqs = jnp.exp(-math.log(10000.0) * jnp.arange(half, dtype=jnp.float32) / half)
    ang = t.astype(jnp.float32)[:, None] * freqs[None]
    emb = jnp.concatenate([jnp.cos(ang), jnp.sin(ang)], axis=-1)
    return jnp.pad(emb, ((0, 0), (0, dim % 2)))


class Block(nn.Module):
    cfg: KarloConfig

    @nn.compact
    def __call__(self, x, bias):
        cfg = self.cfg
        b, n, _ = x.shape
        h = nn.LayerNorm(1e-5, name="norm1")(x)

        def heads(y):
            return y.reshape(b, n, cfg.heads, cfg.head_dim)

        q = heads(_dense(cfg.inner, "attn1_to_q")(h))
        k = heads(_dense(cfg.inner, "attn1_to_k")(h))
        v = heads(_dense(cfg.inner, "attn1_to_v")(h))
        logits = jnp.einsum("bqhd,bkhd->bhqk", q, k) * cfg.head_dim**-0.5 + bias[:, None]
        probs = jax.nn.softmax(logits.astype(jnp.float32), axis=-1).astype(x.dtype)
        out = jnp.einsum("bhqk,bkhd->bqhd", probs, v).reshape(b, n, cfg.inner)
        x = x + _dense(cfg.inner, "attn1_to_out_0")(out)
        h = nn.LayerNorm(1e-5, name="norm3")(x)
        h = nn.gelu(_dense(4 * cfg.inner, "ff_net_0_proj")(h), approximate=False)
        return x + _dense(cfg.inner, "ff_net_2")(h)


class KarloPrior(nn.Module):
    cfg: KarloConfig

    @nn.compact
    def __call__(self, x_t, t, text_embed, text_enc, text_mask=None):
        """x_t [B, D] (Karlo-normalised image latent), t int [B], text_embed [B, D], text_enc
        [B, num_embeddings, D] (CLIP last hidden states), text_mask bool [B, num_embeddings]."""
        cfg = self.cfg
        b, inner = x_t.shape[0], cfg.inner
        n_tok = cfg.num_embeddings + cfg.additional_embeddings
        temb = _dense(cfg.time_embed_dim or inner, "time_embedding_linear_1")(timestep_features(t, inner))
        temb = _dense(inner, "time_embedding_linear_2")(nn.silu(temb))
        if cfg.embedding_proj_norm:
            text_embed = nn.LayerNorm(1e-5, name="embedding_proj_norm")(text_embed)
        proj = _dense(inner, "embedding_proj")(text_embed)
        enc = _dense(inner, "encoder_hidden_states_proj")(text_enc) if cfg.encoder_hid_proj else text_enc
        hid = _dense(inner, "proj_in")(x_t)
        pos = self.param("positional_embedding", nn.initializers.zeros, (1, n_tok, inner))
        tokens = [enc, proj[:, None], temb[:, None], hid[:, None]]
        if cfg.prd:
            prd = self.param("prd_embedding", nn.initializers.zeros, (1, 1, inner))
            tokens.append(jnp.broadcast_to(prd, (b, 1, inner)))
        x = jnp.concatenate(tokens, axis=1) + pos
        if text_mask is None:
            text_mask = jnp.ones((b, cfg.num_embeddings), bool)
        pad = jnp.where(text_mask, 0.0, -10000.0)
        pad = jnp.pad(pad, ((0, 0), (0, cfg.additional_embeddings)))
        causal = np.triu(np.full((n_tok, n_tok), -10000.0, np.float32), 1)
        bias = (pad[:, None, :] + causal[None]).astype(x.dtype)
        if cfg.norm_in:
            x = nn.LayerNorm(1e-5, name="norm_in")(x)
        for i in range(cfg.layers):
            x = Block(cfg, name=f"transformer_blocks_{i}")(x, bias)
        x = nn.LayerNorm(1e-5, name="norm_out")(x)
        x = x[:, -1] if cfg.prd else x[:, cfg.num_embeddings + 2 :]
        clip_dim = cfg.clip_embed_dim or cfg.embedding_dim
        self.param("clip_mean", nn.initializers.zeros, (1, clip_dim))
        self.param("clip_std", nn.initializers.ones, (1, clip_dim))
        return _dense(clip_dim, "proj_to_clip_embeddings")(x)


def post_process(params, latents):
    """Karlo's output latents -> CLIP image embeddings (times clip_std plus clip_mean)."""
    return latents * params["clip_std"] + params["clip_mean"]


def _torch_name(path):
    *mods, leaf = path
    name = ".".join(mods)
    name = re.sub(r"transformer_blocks_(\d+)", r"transformer_blocks.\1", name)
    name = name.replace("attn1_", "attn1.").replace("to_out_0", "to_out.0")
    name = name.replace("ff_net_0_proj", "ff.net.0.proj").replace("ff_net_2", "ff.net.2")
    name = name.replace("time_embedding_", "time_embedding.")
    if leaf in ("kernel", "scale"):
        return f"{name}.weight", leaf == "kernel"
    if leaf == "bias":
        return f"{name}.bias", False
    return ".".join([*mods, leaf]), False


def infer_config(sd) -> KarloConfig:
    """The config of a PriorTransformer state dict, from its tensor shapes."""
    try:
        n_tok, inner = sd["positional_embedding"].shape[1:]
        head_dim = 64 if inner % 64 == 0 else inner
        layers = len({m.group(1) for k in sd if (m := re.match(r"transformer_blocks\.(\d+)\.", k))})
        n_emb = n_tok - 4 if "prd_embedding" in sd else n_tok - 3
        return KarloConfig(
            heads=inner // head_dim,
            head_dim=head_dim,
            layers=layers,
            embedding_dim=sd["proj_in.weight"].shape[1],
            num_embeddings=n_emb,
            additional_embeddings=n_tok - n_emb,
            time_embed_dim=sd["time_embedding.linear_1.weight"].shape[0],
            clip_embed_dim=sd["proj_to_clip_embeddings.weight"].shape[0],
            norm_in="norm_in.weight" in sd,
            embedding_proj_norm="embedding_proj_norm.weight" in sd,
            encoder_hid_proj="encoder_hidden_states_proj.weight" in sd,
            prd="prd_embedding" in sd,
        )
    except (KeyError, ValueError) as err:
        raise UserError(f"not a diffusers PriorTransformer state dict: no {err}") from err


def import_karlo(sd, cfg: KarloConfig, dtype=np.float32):
    """Our parameters for `cfg` from a PriorTransformer state dict; every missing, extra or
    mis-shaped key is named in the UserError."""
    import flax

    abstract = jax.eval_shape(
        lambda k: KarloPrior(cfg).init(
            k,
            jnp.zeros((1, cfg.embedding_dim)),
            jnp.zeros((1,), jnp.int32),
            jnp.zeros((1, cfg.embedding_dim)),
            jnp.zeros((1, cfg.num_embeddings, cfg.embedding_dim)),
        )["params"],
        jax.random.key(0),
    )
    out, missing, shaped, used = {}, [], [], set()
    for path, spec in flax.traverse_util.flatten_dict(abstract).items():
        key, transpose = _torch_name(path)
        if key not in sd:
            missing.append(key)
            continue
        used.add(key)
        value = np.asarray(sd[key]).T if transpose else np.asarray(sd[key])
        if value.shape != spec.shape:
            shaped.append(f"{key} {tuple(np.shape(sd[key]))}")
            continue
        out[path] = value.astype(dtype)
    extra = sorted(set(sd) - used)
    problems = [
        f"{what} {', '.join(keys)}"
        for what, keys in (("missing", missing), ("unexpected", extra), ("mis-shaped", shaped))
        if keys
    ]
    if problems:
        raise UserError(f"Karlo PriorTransformer state dict does not fit the config: {'; '.join(problems)}")
    return flax.traverse_util.unflatten_dict(out)

"""The RoBERTa text encoder of LAION-CLAP (roberta-base), in Flax; CLAP takes its pooler output.

Post-LN BERT blocks: x = LN(x + Attn(x)), x = LN(x + FFN(x)), FFN = dense -> exact GELU -> dense;
embeddings = LN(word + position + token type 0). RoBERTa's positions count only non-padding
tokens and start after the padding index: pos = cumsum(ids != pad) * (ids != pad) + pad, so a
padding token sits at position `pad` (its row of the table is never used for real tokens).
Pooler: tanh(dense(hidden state of token 0)). Submodule names follow the Hugging Face keys
(`embeddings.word_embeddings`, `encoder.layer.{i}.attention.self.query`, `pooler.dense`, ...).

    cfg = RobertaConfig.base()
    pooled = Roberta(cfg).apply({"params": p}, ids, mask)   # [B, hidden]
"""

from __future__ import annotations

import dataclasses

import flax.linen as nn
import jax
import jax.numpy as jnp


@dataclasses.dataclass(frozen=True)
class RobertaConfig:
    vocab_size: int = 50265
    hidden: int = 768
    layers: int = 12
    heads: int = 12
    intermediate: int = 3072
    max_positions: int = 514
    type_vocab_size: int = 1
    pad_token_id: int = 1
    layer_norm_eps: float = 1e-5

    @classmethod
    def base(cls):
        return cls()


def position_ids(ids, pad):
    real = (ids != pad).astype(jnp.int32)
    return jnp.cumsum(real, axis=1) * real + pad


class SelfAttention(nn.Module):
    cfg: RobertaConfig

    @nn.compact
    def __call__(self, x, mask):
        b, n, c = x.shape
        h = self.cfg.heads
        q, k, v = (nn.Dense(c, name=s)(x).reshape(b, n, h, c // h) for s in ("query", "key", "value"))
        logits = jnp.einsum("bqhd,bkhd->bhqk", q, k) * (c // h) ** -0.5
        logits = jnp.where(mask[:, None, None, :] > 0, logits, jnp.finfo(logits.dtype).min)
        return jnp.einsum("bhqk,bkhd->bqhd", jax.nn.softmax(logits, axis=-1), v).reshape(b, n, c)


class DenseNorm(nn.Module):
    """dense(x) + residual, then LayerNorm: BERT's `*.output` modules."""

    hidden: int
    eps: float

    @nn.compact
    def __call__(self, x, residual):
        return nn.LayerNorm(self.eps, name="LayerNorm")(nn.Dense(self.hidden, name="dense")(x) + residual)


class Attention(nn.Module):
    cfg: RobertaConfig

    @nn.compact
    def __call__(self, x, mask):
        a = SelfAttention(self.cfg, name="self")(x, mask)
        return DenseNorm(self.cfg.hidden, self.cfg.layer_norm_eps, name="output")(a, x)


class Intermediate(nn.Module):
    size: int

    @nn.compact
    def __call__(self, x):
        return jax.nn.gelu(nn.Dense(self.size, name="dense")(x), approximate=False)


class Layer(nn.Module):
    cfg: RobertaConfig

    @nn.compact
    def __call__(self, x, mask):
        x = Attention(self.cfg, name="attention")(x, mask)
        return DenseNorm(self.cfg.hidden, self.cfg.layer_norm_eps, name="output")(
            Intermediate(self.cfg.intermediate, name="intermediate")(x), x
        )


class Encoder(nn.Module):
    cfg: RobertaConfig

    @nn.compact
    def __call__(self, x, mask):
        for i in range(self.cfg.layers):
            x = Layer(self.cfg, name=f"layer_{i}")(x, mask)
        return x


class Embeddings(nn.Module):
    cfg: RobertaConfig

    @nn.compact
    def __call__(self, ids):
        cfg = self.cfg
        x = nn.Embed(cfg.vocab_size, cfg.hidden, name="word_embeddings")(ids)
        x = x + nn.Embed(cfg.max_positions, cfg.hidden, name="position_embeddings")(
            position_ids(ids, cfg.pad_token_id)
        )
        x = x + nn.Embed(cfg.type_vocab_size, cfg.hidden, name="token_type_embeddings")(jnp.zeros_like(ids))
        return nn.LayerNorm(cfg.layer_norm_eps, name="LayerNorm")(x)


class Pooler(nn.Module):
    hidden: int

    @nn.compact
    def __call__(self, x):
        return jnp.tanh(nn.Dense(self.hidden, name="dense")(x[:, 0]))


class Roberta(nn.Module):
    """ids, attention mask [B, L] -> pooler output [B, hidden]."""

    cfg: RobertaConfig

    @nn.compact
    def __call__(self, ids, mask):
        x = Encoder(self.cfg, name="encoder")(Embeddings(self.cfg, name="embeddings")(ids), mask)
        return Pooler(self.cfg.hidden, name="pooler")(x)

"""CLIP image and text encoders in Flax Linen, numerically matching Hugging Face's CLIPModel.

Architecture (reference clipsonic.md §3.4): pre-LN transformer blocks x + Attn(LN1 x), x + MLP(LN2 x),
LayerNorm eps 1e-5, MLP fc1 -> quick_gelu -> fc2, separate q/k/v/out projections with biases and an
fp32 softmax. Vision: stride-P patch conv without bias, class token, learned positions,
pre_layrnorm, pool token 0, post_layernorm, visual_projection. Text: token + position embedding,
causal attention, final_layer_norm on every token, pool at EOS (argmax of ids when the legacy
eos_token_id == 2, else the first eos_token_id), text_projection.

Submodule names follow the HF safetensors keys (clip_load.py maps them), so the parameter tree
reads like the checkpoint: params["vision_model"]["encoder"]["layers_0"]["self_attn"]["q_proj"].

    cfg = CLIPConfig.from_hf(json.load(open("config.json")))   # or CLIPConfig.vit_b32() / vit_l14()
    model = CLIP(cfg)
    img = model.apply({"params": params}, pixels_nhwc, method=CLIP.encode_image)   # [B, proj]
    txt = model.apply({"params": params}, input_ids, method=CLIP.encode_text)      # [B, proj]
"""

from __future__ import annotations

import dataclasses

import flax.linen as nn
import jax
import jax.numpy as jnp

from music_codecs.errors import UserError


@dataclasses.dataclass(frozen=True)
class TowerConfig:
    hidden: int
    layers: int
    heads: int
    mlp: int
    act: str = "quick_gelu"


@dataclasses.dataclass(frozen=True)
class CLIPConfig:
    vision: TowerConfig
    text: TowerConfig
    image_size: int = 224
    patch: int = 32
    vocab_size: int = 49408
    max_positions: int = 77
    eos_token_id: int = 2  # 2 is the legacy value: pool at argmax(input_ids)
    projection_dim: int = 512
    layer_norm_eps: float = 1e-5

    @property
    def num_patches(self):
        return (self.image_size // self.patch) ** 2

    @classmethod
    def vit_b32(cls):
        """openai/clip-vit-base-patch32: 512-d embeddings (CLIPSep's model)."""
        return cls(
            TowerConfig(768, 12, 12, 3072),
            TowerConfig(512, 12, 8, 2048),
            image_size=224,
            patch=32,
            projection_dim=512,
        )

    @classmethod
    def vit_l14(cls):
        """openai/clip-vit-large-patch14: 768-d embeddings (the DALL-E 2 priors' space)."""
        return cls(
            TowerConfig(1024, 24, 16, 4096),
            TowerConfig(768, 12, 12, 3072),
            image_size=224,
            patch=14,
            projection_dim=768,
        )

    @classmethod
    def from_hf(cls, d):
        """From a Hugging Face CLIP config.json dict (or CLIPConfig.to_dict())."""
        try:
            v, t = d["vision_config"], d["text_config"]

            def tower(c):
                return TowerConfig(
                    int(c["hidden_size"]),
                    int(c["num_hidden_layers"]),
                    int(c["num_attention_heads"]),
                    int(c["intermediate_size"]),
                    str(c.get("hidden_act", "quick_gelu")),
                )

            return cls(
                tower(v),
                tower(t),
                image_size=int(v["image_size"]),
                patch=int(v["patch_size"]),
                vocab_size=int(t["vocab_size"]),
                max_positions=int(t["max_position_embeddings"]),
                eos_token_id=int(t.get("eos_token_id", 2)),
                projection_dim=int(d.get("projection_dim", 512)),
                layer_norm_eps=float(v.get("layer_norm_eps", 1e-5)),
            )
        except (KeyError, TypeError, ValueError) as err:
            raise UserError(f"not a CLIP config: missing or bad field {err}") from err


def activation(name):
    if name == "quick_gelu":
        return lambda x: x * jax.nn.sigmoid(1.702 * x)
    if name == "gelu":
        return lambda x: jax.nn.gelu(x, approximate=False)
    if name in ("gelu_new", "gelu_pytorch_tanh"):
        return lambda x: jax.nn.gelu(x, approximate=True)
    raise UserError(f"unsupported CLIP activation {name!r}")


class Attention(nn.Module):
    hidden: int
    heads: int

    @nn.compact
    def __call__(self, x, mask=None):
        b, n, _ = x.shape
        dh = self.hidden // self.heads

        def split(y):
            return y.reshape(b, n, self.heads, dh)

        q = split(nn.Dense(self.hidden, name="q_proj")(x)) * dh**-0.5
        k = split(nn.Dense(self.hidden, name="k_proj")(x))
        v = split(nn.Dense(self.hidden, name="v_proj")(x))
        logits = jnp.einsum("bqhd,bkhd->bhqk", q, k).astype(jnp.float32)
        if mask is not None:
            logits = jnp.where(mask, logits, jnp.finfo(jnp.float32).min)
        probs = jax.nn.softmax(logits, axis=-1).astype(x.dtype)
        out = jnp.einsum("bhqk,bkhd->bqhd", probs, v).reshape(b, n, self.hidden)
        return nn.Dense(self.hidden, name="out_proj")(out)


class MLP(nn.Module):
    tower: TowerConfig

    @nn.compact
    def __call__(self, x):
        x = activation(self.tower.act)(nn.Dense(self.tower.mlp, name="fc1")(x))
        return nn.Dense(self.tower.hidden, name="fc2")(x)


class Block(nn.Module):
    tower: TowerConfig
    eps: float

    @nn.compact
    def __call__(self, x, mask=None):
        x = x + Attention(self.tower.hidden, self.tower.heads, name="self_attn")(
            nn.LayerNorm(self.eps, name="layer_norm1")(x), mask
        )
        return x + MLP(self.tower, name="mlp")(nn.LayerNorm(self.eps, name="layer_norm2")(x))


class Encoder(nn.Module):
    tower: TowerConfig
    eps: float

    @nn.compact
    def __call__(self, x, mask=None):
        for i in range(self.tower.layers):
            x = Block(self.tower, self.eps, name=f"layers_{i}")(x, mask)
        return x


class VisionEmbeddings(nn.Module):
    cfg: CLIPConfig

    @nn.compact
    def __call__(self, pixels):
        h = self.cfg.vision.hidden
        cls_token = self.param("class_embedding", nn.initializers.normal(h**-0.5), (h,))
        x = nn.Conv(
            h,
            (self.cfg.patch, self.cfg.patch),
            strides=self.cfg.patch,
            padding="VALID",
            use_bias=False,
            name="patch_embedding",
        )(pixels)
        x = x.reshape(x.shape[0], -1, h)
        x = jnp.concatenate([jnp.broadcast_to(cls_token, (x.shape[0], 1, h)).astype(x.dtype), x], 1)
        pos = nn.Embed(self.cfg.num_patches + 1, h, name="position_embedding")
        return x + pos(jnp.arange(x.shape[1]))[None]


class VisionTransformer(nn.Module):
    cfg: CLIPConfig

    @nn.compact
    def __call__(self, pixels):
        """pixels float [B, S, S, 3] (NHWC, CLIP-normalised) -> (last_hidden_state, pooled)."""
        eps = self.cfg.layer_norm_eps
        x = VisionEmbeddings(self.cfg, name="embeddings")(pixels)
        x = nn.LayerNorm(eps, name="pre_layrnorm")(x)  # "layrnorm" is the real HF key
        x = Encoder(self.cfg.vision, eps, name="encoder")(x)
        return x, nn.LayerNorm(eps, name="post_layernorm")(x[:, 0])


class TextEmbeddings(nn.Module):
    cfg: CLIPConfig

    @nn.compact
    def __call__(self, ids):
        h = self.cfg.text.hidden
        tok = nn.Embed(self.cfg.vocab_size, h, name="token_embedding")
        pos = nn.Embed(self.cfg.max_positions, h, name="position_embedding")
        return tok(ids) + pos(jnp.arange(ids.shape[1]))[None]


class TextTransformer(nn.Module):
    cfg: CLIPConfig

    @nn.compact
    def __call__(self, ids):
        """ids int [B, L] (L <= max_positions) -> (last_hidden_state, pooled at EOS)."""
        cfg, n = self.cfg, ids.shape[1]
        x = TextEmbeddings(cfg, name="embeddings")(ids)
        causal = jnp.tril(jnp.ones((n, n), bool))[None, None]
        x = Encoder(cfg.text, cfg.layer_norm_eps, name="encoder")(x, causal)
        x = nn.LayerNorm(cfg.layer_norm_eps, name="final_layer_norm")(x)
        return x, x[jnp.arange(ids.shape[0]), eos_positions(cfg, ids)]


class CLIP(nn.Module):
    cfg: CLIPConfig

    def setup(self):
        self.vision_model = VisionTransformer(self.cfg)
        self.text_model = TextTransformer(self.cfg)
        self.visual_projection = nn.Dense(self.cfg.projection_dim, use_bias=False)
        self.text_projection = nn.Dense(self.cfg.projection_dim, use_bias=False)
        self.logit_scale = self.param("logit_scale", nn.initializers.constant(2.6592), ())

    def encode_image(self, pixels):
        return self.visual_projection(self.vision_model(pixels)[1])

    def encode_text(self, ids):
        return self.text_projection(self.text_model(ids)[1])

    def text_hidden_states(self, ids):
        return self.text_model(ids)[0]

    def encode_text_with_hidden(self, ids):
        """(text embeds [B, proj], final-norm hidden states [B, L, H]) from one pass."""
        hidden, pooled = self.text_model(ids)
        return self.text_projection(pooled), hidden

    def __call__(self, pixels, ids):
        """(image embeds, text embeds, logits_per_text) like HF CLIPModel (embeds L2-normalised)."""
        img = normalize(self.encode_image(pixels))
        txt = normalize(self.encode_text(ids))
        return img, txt, jnp.exp(self.logit_scale) * txt @ img.T


def eos_positions(cfg: CLIPConfig, ids):
    """int [B]: the EOS position the text tower pools at."""
    if cfg.eos_token_id == 2:
        return jnp.argmax(ids, axis=-1)  # legacy configs: EOT 49407 is the largest id
    return jnp.argmax(ids == cfg.eos_token_id, axis=-1)


def normalize(x, eps=1e-12):
    """L2-normalise the last axis (CLIP's embedding normalisation)."""
    x = x.astype(jnp.float32)
    return x / jnp.maximum(jnp.linalg.norm(x, axis=-1, keepdims=True), eps)

"""Hugging Face CLIP checkpoints (safetensors) <-> our Flax CLIP parameters, plus the query front end.

Key names (reference §3.3): PyTorch Linear weights are [out, in] (-> Dense kernel [in, out]), the patch
conv is [out, in, kh, kw] (-> [kh, kw, in, out]), LayerNorm weight -> scale, Embedding weight ->
embedding, `layers.{i}` -> `layers_{i}`; `position_ids` buffers are ignored.

    params = load_params("model.safetensors", cfg)     # checked against the model's own shapes
    save_params(params, "model.safetensors")           # the inverse (HF names, PyTorch layouts)
    clip = load_clip(DIR)        # DIR: config.json + model.safetensors (+ tokenizer, preprocessor)
    clip.embed_images([rgb_uint8, ...]); clip.embed_texts(["a dog barking"])   # L2-normalised
    write_tiny_clip(DIR, seed=0)  # a tiny random CLIP with tokenizer and processor, for demos/tests
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os

import flax
import jax
import jax.numpy as jnp
import numpy as np

from model_kit.clip_model import CLIP, CLIPConfig, eos_positions, normalize
from music_codecs.errors import UserError

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


def hf_key(path):
    """Our parameter path (tuple of names) -> (HF key, kind) with kind in dense/conv/plain."""
    *mods, leaf = path
    parts = [m.replace("layers_", "layers.") if m.startswith("layers_") else m for m in mods]
    owner = mods[-1] if mods else ""
    if leaf == "kernel":
        kind = "conv" if owner == "patch_embedding" else "dense"
        return ".".join(parts + ["weight"]), kind
    if leaf in ("scale", "embedding"):
        return ".".join(parts + ["weight"]), "plain"
    return ".".join(parts + [leaf]), "plain"


def _to_ours(array, kind):
    if kind == "dense":
        return array.T
    if kind == "conv":
        return array.transpose(2, 3, 1, 0)
    return array


def _to_hf(array, kind):
    if kind == "dense":
        return array.T
    if kind == "conv":
        return array.transpose(3, 2, 0, 1)
    return array


@functools.lru_cache(maxsize=4)
def abstract_params(cfg: CLIPConfig):
    s = cfg.image_size
    return jax.eval_shape(
        lambda: CLIP(cfg).init(jax.random.key(0), jnp.zeros((1, s, s, 3)), jnp.zeros((1, 4), jnp.int32))[
            "params"
        ]
    )


def load_params(path, cfg: CLIPConfig, dtype=jnp.float32):
    """Read a HF CLIP `model.safetensors` into our parameter tree (every tensor shape-checked)."""
    from safetensors.numpy import load_file

    if not os.path.exists(path):
        raise UserError(f"{path}: CLIP checkpoint not found")
    try:
        tensors = load_file(path)
    except Exception as err:  # safetensors raises its own error types for corrupt files
        raise UserError(f"{path}: cannot read safetensors: {err}") from err
    flat = flax.traverse_util.flatten_dict(abstract_params(cfg))
    out, missing = {}, []
    for p, spec in flat.items():
        key, kind = hf_key(p)
        if key not in tensors:
            missing.append(key)
            continue
        value = _to_ours(tensors[key], kind)
        if value.shape != spec.shape:
            raise UserError(
                f"{path}: {key} has shape {tensors[key].shape}, the config expects "
                f"{_to_hf(np.empty(spec.shape), kind).shape}"
            )
        out[p] = jnp.asarray(value, dtype)
    if missing:
        raise UserError(f"{path}: {len(missing)} CLIP tensors missing, e.g. {missing[0]}")
    return flax.traverse_util.unflatten_dict(out)


def save_params(params, path):
    """Write our parameters as a HF-named `model.safetensors` (PyTorch layouts, float32)."""
    from safetensors.numpy import save_file

    flat = flax.traverse_util.flatten_dict(jax.device_get(params))
    tensors = {}
    for p, v in flat.items():
        key, kind = hf_key(p)
        tensors[key] = np.array(_to_hf(np.asarray(v, np.float32), kind), order="C")  # keeps 0-d
    save_file(tensors, path, metadata={"format": "pt"})
    return sorted(tensors)


def preprocess(images, size, resample=3):
    """uint8 RGB images -> float32 [B, size, size, 3]: short side to size (bicubic), centre crop,
    /255, CLIP mean/std. Uses transformers' PIL CLIPImageProcessor (the reference implementation;
    the PIL backend is the one that needs neither torch nor torchvision)."""
    from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil

    proc = CLIPImageProcessorPil(
        size={"shortest_edge": size}, crop_size={"height": size, "width": size}, resample=resample
    )
    pixels = proc(images=[np.asarray(i, np.uint8) for i in images], return_tensors="np")["pixel_values"]
    return np.asarray(pixels, np.float32).transpose(0, 2, 3, 1)


@dataclasses.dataclass
class LoadedCLIP:
    cfg: CLIPConfig
    params: dict
    directory: str

    @functools.cached_property
    def _image_fn(self):
        model = CLIP(self.cfg)
        return jax.jit(lambda p, x: normalize(model.apply({"params": p}, x, method=CLIP.encode_image)))

    @functools.cached_property
    def _text_fn(self):
        model = CLIP(self.cfg)
        return jax.jit(lambda p, x: normalize(model.apply({"params": p}, x, method=CLIP.encode_text)))

    @functools.cached_property
    def _text_enc_fn(self):
        model = CLIP(self.cfg)

        def fn(p, ids):
            emb, hidden = model.apply({"params": p}, ids, method=CLIP.encode_text_with_hidden)
            keep = jnp.arange(ids.shape[1])[None] <= eos_positions(self.cfg, ids)[:, None]
            return normalize(emb), jnp.where(keep[..., None], hidden, 0.0)

        return jax.jit(fn)

    @functools.cached_property
    def tokenizer(self):
        from transformers import CLIPTokenizer

        if not os.path.exists(os.path.join(self.directory, "vocab.json")):
            raise UserError(f"{self.directory}: no tokenizer (vocab.json, merges.txt) for text queries")
        return CLIPTokenizer.from_pretrained(self.directory)

    def embed_images(self, images, batch_size=32):
        """L2-normalised image embeddings [N, proj] for uint8 RGB images."""
        out = [
            np.asarray(
                self._image_fn(self.params, preprocess(images[i : i + batch_size], self.cfg.image_size))
            )
            for i in range(0, len(images), batch_size)
        ]
        return np.concatenate(out) if out else np.zeros((0, self.cfg.projection_dim), np.float32)

    def tokenize(self, texts):
        ids = self.tokenizer(
            list(texts),
            padding="max_length",
            truncation=True,
            max_length=self.cfg.max_positions,
            return_tensors="np",
        )["input_ids"]
        return np.asarray(ids, np.int32)

    def embed_texts(self, texts):
        """L2-normalised text embeddings [N, proj]."""
        return np.asarray(self._text_fn(self.params, self.tokenize(texts)))

    def embed_texts_with_encodings(self, texts, batch_size=64):
        """(L2-normalised embeddings [N, proj], text encodings [N, L, H]): the final-norm hidden
        states, zero after the EOS token, as the DALL-E 2 prior reads them (reference §4.1)."""
        texts = list(texts)
        embs, encs = [], []
        for i in range(0, len(texts), batch_size):
            e, h = self._text_enc_fn(self.params, self.tokenize(texts[i : i + batch_size]))
            embs.append(np.asarray(e)), encs.append(np.asarray(h))
        if not embs:
            h = self.cfg.text.hidden
            return np.zeros((0, self.cfg.projection_dim), np.float32), np.zeros(
                (0, self.cfg.max_positions, h), np.float32
            )
        return np.concatenate(embs), np.concatenate(encs)


def load_clip(directory):
    """A HF CLIP folder: config.json and model.safetensors (tokenizer files for text queries)."""
    cfg_path = os.path.join(directory, "config.json")
    if not os.path.exists(cfg_path):
        raise UserError(f"{directory}: no CLIP config.json")
    try:
        with open(cfg_path) as f:
            cfg = CLIPConfig.from_hf(json.load(f))
    except (ValueError, KeyError, TypeError, AttributeError) as err:  # a damaged config.json
        raise UserError(f"{cfg_path}: not a CLIP config ({type(err).__name__}: {err})") from None
    params = load_params(os.path.join(directory, "model.safetensors"), cfg)
    return LoadedCLIP(cfg, params, str(directory))


# --------------------------------------------------------------------------- tiny random CLIP


def tiny_hf_config(image_size=32, patch=8, hidden=32, layers=2, heads=4, projection_dim=16):
    """A tiny CLIP config.json dict (vocab 600 covers the byte-level tiny tokenizer)."""
    tower = dict(
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        intermediate_size=hidden * 2,
        hidden_act="quick_gelu",
        layer_norm_eps=1e-5,
    )
    return {
        "model_type": "clip",
        "projection_dim": projection_dim,
        "logit_scale_init_value": 2.6592,
        "vision_config": dict(tower, image_size=image_size, patch_size=patch, num_channels=3),
        "text_config": dict(
            tower,
            vocab_size=600,
            max_position_embeddings=16,
            bos_token_id=598,
            eos_token_id=2,
            pad_token_id=599,
        ),
    }


def tiny_vocab():
    """Byte-level BPE vocabulary with no merges: every byte symbol, with and without </w>."""
    # GPT-2/CLIP byte alphabet: printable Latin-1 bytes stand for themselves, the other bytes
    # are shifted to code points from 256 upwards.
    printable = [*range(33, 127), *range(161, 173), *range(174, 256)]
    shifted = [b for b in range(256) if b not in printable]
    symbols = [chr(b) for b in printable] + [chr(256 + i) for i in range(len(shifted))]
    vocab = {s: i for i, s in enumerate(symbols)}
    vocab.update({s + "</w>": i + len(symbols) for i, s in enumerate(symbols)})
    vocab["<|startoftext|>"] = 598
    vocab["<|endoftext|>"] = 599
    return vocab


# The demo CLIP: small patches and 64-d embeddings, so that even random weights give image features
# from which a linear probe tells the synthetic colours apart (98% on unseen clips; the 16-d
# default of tiny_hf_config gets 70%).
DEMO_CLIP = dict(image_size=32, patch=4, hidden=64, layers=2, heads=4, projection_dim=64)


def write_tiny_clip(directory, seed=0, **config):
    """Write a tiny random CLIP folder (config, safetensors, tokenizer, processor config)."""
    os.makedirs(directory, exist_ok=True)
    hf = tiny_hf_config(**config)
    with open(os.path.join(directory, "config.json"), "w") as f:
        json.dump(hf, f, indent=1)
    cfg = CLIPConfig.from_hf(hf)
    s = cfg.image_size
    params = CLIP(cfg).init(jax.random.key(seed), jnp.zeros((1, s, s, 3)), jnp.zeros((1, 4), jnp.int32))[
        "params"
    ]
    save_params(params, os.path.join(directory, "model.safetensors"))
    with open(os.path.join(directory, "vocab.json"), "w") as f:
        json.dump(tiny_vocab(), f)
    with open(os.path.join(directory, "merges.txt"), "w") as f:
        f.write("#version: 0.2\n")
    with open(os.path.join(directory, "preprocessor_config.json"), "w") as f:
        json.dump(
            {
                "image_processor_type": "CLIPImageProcessor",
                "size": {"shortest_edge": s},
                "crop_size": {"height": s, "width": s},
                "do_center_crop": True,
                "image_mean": list(CLIP_MEAN),
                "image_std": list(CLIP_STD),
                "resample": 3,
            },
            f,
        )
    return cfg

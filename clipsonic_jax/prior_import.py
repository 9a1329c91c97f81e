"""DALLE2-pytorch prior checkpoints -> our PriorNetwork parameters (reference §4.1).

The names a checkpoint holds depend on the dalle2-pytorch version that wrote it, so nothing is
guessed: every tensor the network needs is looked up by its PyTorch name and shape-checked, and
every missing, unexpected or mis-shaped key is named in one error. Known non-parameters (the noise
scheduler's buffers, a bundled `clip.*`, rotary frequency buffers) are skipped.

    sd = read_state_dict("prior/best.pth")         # .pth (torch), .safetensors or .npz; a
                                                   # DiffusionPriorTrainer file's ema_model is used
    cfg = infer_net_config(sd)                     # PriorNetConfig from the tensor shapes
    params = import_dalle2_prior(sd, cfg)          # our (unboxed) parameter tree
"""

from __future__ import annotations

import os
import re

import numpy as np

from clipsonic_jax.prior_config import PriorNetConfig
from music_codecs.errors import UserError

# our leaf path (within causal_transformer/attn_i or ff_i) -> PyTorch suffix, kernel transposed?
_ATTN = {
    ("norm", "g"): ("0.norm.g", False),
    ("null_kv",): ("0.null_kv", False),
    ("to_q", "kernel"): ("0.to_q.weight", True),
    ("to_kv", "kernel"): ("0.to_kv.weight", True),
    ("to_out_0", "kernel"): ("0.to_out.0.weight", True),
    ("to_out_1", "g"): ("0.to_out.1.g", False),
}
_FF = {
    ("norm_in", "g"): ("1.0.g", False),
    ("proj_in", "kernel"): ("1.1.weight", True),
    ("norm_mid", "g"): ("1.3.g", False),
    ("proj_out", "kernel"): ("1.5.weight", True),
}
_TOP = {
    ("learned_query",): "learned_query",
    ("null_text_encodings",): "null_text_encodings",
    ("null_text_embeds",): "null_text_embeds",
    ("null_image_embed",): "null_image_embed",
    ("to_time_embeds", "embedding"): "to_time_embeds.0.weight",
    ("causal_transformer", "rel_pos_bias", "embedding"): (
        "causal_transformer.rel_pos_bias.relative_attention_bias.weight"
    ),
    ("causal_transformer", "init_norm", "g"): "causal_transformer.init_norm.g",
    ("causal_transformer", "norm", "g"): "causal_transformer.norm.g",
    ("causal_transformer", "project_out", "kernel"): "causal_transformer.project_out.weight",
}
_SKIP = re.compile(r"^(noise_scheduler\.|clip\.|_dummy$)|rotary_emb\.(freqs|cached_\w+|dummy|scale)$")


def torch_key(path):
    """(PyTorch name, transposed) for one of our parameter paths (a tuple of names)."""
    if path in _TOP:
        return _TOP[path], path[-1] == "kernel"
    if path[0] == "causal_transformer" and len(path) > 2:
        kind, i = path[1].rsplit("_", 1)
        suffix, t = (_ATTN if kind == "attn" else _FF)[path[2:]]
        return f"causal_transformer.layers.{i}.{suffix}", t
    raise KeyError(path)


def read_state_dict(path):
    """{name: float32 ndarray} from a .pth/.pt (needs torch), .safetensors or .npz file."""
    if not os.path.exists(path):
        raise UserError(f"{path}: prior checkpoint not found")
    ext = os.path.splitext(str(path))[1].lower()
    try:
        if ext == ".safetensors":
            from safetensors.numpy import load_file

            return dict(load_file(path))
        if ext == ".npz":
            with np.load(path) as z:
                return {k: z[k] for k in z.files}
    except Exception as err:  # corrupt files raise the libraries' own error types
        raise UserError(f"{path}: cannot read: {err}") from err
    try:
        import torch
    except ImportError as err:
        raise UserError(f"{path}: reading a PyTorch checkpoint needs torch (pip install torch)") from err
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        raise UserError(f"{path}: cannot read as a PyTorch checkpoint: {err}") from err
    return state_dict_arrays(obj)


def state_dict_arrays(obj):
    """A PyTorch state dict (or a DiffusionPriorTrainer dict holding one) as NumPy arrays."""
    if isinstance(obj, dict):
        for key in ("ema_model", "model"):  # trainer files: the EMA weights are for inference
            if isinstance(obj.get(key), dict):
                obj = obj[key]
                break
    out = {}
    for k, v in obj.items():
        if hasattr(v, "detach"):
            v = v.detach().cpu().float().numpy()
        if isinstance(v, np.ndarray):
            out[k] = v
    return out


def _strip(sd):
    """Drop the `net.` prefix of a whole DiffusionPrior's state dict."""
    if any(k.startswith("net.") for k in sd):
        return {k[4:] if k.startswith("net.") else k: v for k, v in sd.items()}
    return dict(sd)


def infer_net_config(sd, **overrides) -> PriorNetConfig:
    """The network's size from the tensor shapes (dropout and rotary are not stored: rotary is
    taken as on when the file holds rotary frequency buffers or, lacking them, by default)."""
    sd = _strip(sd)
    try:
        dim = sd["learned_query"].shape[0]
        depth = len({m.group(1) for k in sd if (m := re.match(r"causal_transformer\.layers\.(\d+)\.", k))})
        heads = sd["causal_transformer.rel_pos_bias.relative_attention_bias.weight"].shape[1]
        cfg = dict(
            dim=dim,
            depth=depth,
            heads=heads,
            dim_head=sd["causal_transformer.layers.0.0.null_kv"].shape[1],
            ff_mult=sd["causal_transformer.layers.0.1.1.weight"].shape[0] // (2 * dim),
            num_timesteps=sd["to_time_embeds.0.weight"].shape[0],
            max_text_len=sd["null_text_encodings"].shape[1],
            normformer="causal_transformer.layers.0.1.3.g" in sd,
            norm_in="causal_transformer.init_norm.g" in sd,
            norm_out="causal_transformer.norm.g" in sd,
            final_proj="causal_transformer.project_out.weight" in sd,
            rel_pos_buckets=sd["causal_transformer.rel_pos_bias.relative_attention_bias.weight"].shape[0],
        )
    except (KeyError, IndexError) as err:
        raise UserError(f"not a DALLE2-pytorch prior state dict: no {err}") from err
    cfg.update(overrides)
    return PriorNetConfig(**cfg)


def import_dalle2_prior(sd, cfg: PriorNetConfig, dtype=np.float32):
    """Our parameter tree for `cfg` from a DALLE2-pytorch prior state dict; every missing, extra
    or mis-shaped key is named in the UserError."""
    import flax
    import jax

    from clipsonic_jax.prior_model import PriorNetwork, init_params
    from train_kit.sharding import unbox

    sd = _strip(sd)
    abstract = unbox(jax.eval_shape(lambda k: init_params(PriorNetwork(cfg), k), jax.random.key(0)))
    flat = flax.traverse_util.flatten_dict(abstract)
    out, missing, shaped, used = {}, [], [], set()
    for path, spec in flat.items():
        key, transpose = torch_key(path)
        if key not in sd:
            missing.append(key)
            continue
        used.add(key)
        value = np.asarray(sd[key])
        value = value.T if transpose else value
        if value.shape != spec.shape:
            want = spec.shape[::-1] if transpose else spec.shape
            shaped.append(f"{key} {tuple(sd[key].shape)} (expected {tuple(want)})")
            continue
        out[path] = value.astype(dtype)
    extra = sorted(k for k in sd if k not in used and not _SKIP.search(k))
    problems = []
    if missing:
        problems.append(f"missing {', '.join(missing)}")
    if extra:
        problems.append(f"unexpected {', '.join(extra)}")
    if shaped:
        problems.append(f"mis-shaped {', '.join(shaped)}")
    if problems:
        raise UserError(f"DALLE2-pytorch prior state dict does not fit the config: {'; '.join(problems)}")
    return flax.traverse_util.unflatten_dict(out)

"""The authors' released PyTorch checkpoints <-> our parameter pytree (reference §9).

The reference state dict (`best_model.pt`, x-transformers 0.25.9 under `decoder.net.`) maps one
to one onto `MusicTransformer` parameters: PyTorch Linear weights are [out, in] and become
[in, out] kernels; q/k/v outputs split head-major into (heads, head_dim), as x-transformers'
`b n (h d) -> b h n d` does. `LAYOUT` below is the whole correspondence, used both ways.

    params, config = params_from_state_dict(state_dict)   # infers depth, dims, vocab, pos_emb
    state_dict = state_dict_to_reference(params, config)  # the inverse (NumPy arrays)
    save_reference_npz(path, params, config)              # ... written as an .npz
    state_dict = load_state_dict("best_model.pt")         # .pt (needs torch) or .npz
    save_converted(out_dir, params, config, source=...)   # a run folder (run.json + params/)

A state dict whose keys or shapes do not fit is refused with a UserError naming the first
mismatch.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np

from mmt_jax.config import FIELDS, Config, MMTConfig
from music_codecs.atomic import atomic_file
from music_codecs.errors import UserError

PREFIX = "decoder.net."
ROTARY_BUFFER = "attn_layers.rotary_pos_emb.inv_freq"


class CheckpointMismatchError(UserError):
    """A state dict that does not have the reference MMT layout."""


# ----------------------------------------------------------------------------- layout


def _linear(in_shape, out_shape):
    """PyTorch [out, in] weight <-> kernel of shape in_shape + out_shape."""
    n_in, n_out = int(np.prod(in_shape)), int(np.prod(out_shape))
    return ((n_out, n_in), lambda w: w.T.reshape(*in_shape, *out_shape), lambda k: k.reshape(n_in, n_out).T)


def _same(shape):
    return tuple(shape), (lambda x: x), (lambda x: x)


def layout(config: MMTConfig):
    """[(reference key without prefix, our param path, reference shape, to_ours, to_ref)]."""
    c = config
    hd = (c.heads, c.head_dim)
    rows = []

    def add(key, path, spec):
        shape, to_ours, to_ref = spec
        rows.append((key, tuple(path.split("/")), tuple(shape), to_ours, to_ref))

    for i, n in enumerate(c.vocab_sizes):
        add(f"token_emb.{i}.emb.weight", f"token_emb_{i}/embedding", _same((n, c.dim)))
    if c.pos_emb == "absolute":
        add("pos_emb.emb.weight", "pos_emb/embedding", _same((c.max_seq_len, c.dim)))
    for j in range(c.depth):
        a, f, b = f"attn_layers.layers.{2 * j}", f"attn_layers.layers.{2 * j + 1}", f"blocks_{j}"
        add(f"{a}.0.0.weight", f"{b}/attn_norm/scale", _same((c.dim,)))
        add(f"{a}.0.0.bias", f"{b}/attn_norm/bias", _same((c.dim,)))
        for ref, ours in (("to_q", "query"), ("to_k", "key"), ("to_v", "value")):
            add(f"{a}.1.{ref}.weight", f"{b}/attn/{ours}", _linear((c.dim,), hd))
        add(f"{a}.1.to_out.weight", f"{b}/attn/out_kernel", _linear(hd, (c.dim,)))
        add(f"{a}.1.to_out.bias", f"{b}/attn/out_bias", _same((c.dim,)))
        add(f"{f}.0.0.weight", f"{b}/ff_norm/scale", _same((c.dim,)))
        add(f"{f}.0.0.bias", f"{b}/ff_norm/bias", _same((c.dim,)))
        inner = c.dim * c.ff_mult
        add(f"{f}.1.net.0.0.weight", f"{b}/ff/wi/kernel", _linear((c.dim,), (inner,)))
        add(f"{f}.1.net.0.0.bias", f"{b}/ff/wi/bias", _same((inner,)))
        add(f"{f}.1.net.3.weight", f"{b}/ff/wo/kernel", _linear((inner,), (c.dim,)))
        add(f"{f}.1.net.3.bias", f"{b}/ff/wo/bias", _same((c.dim,)))
    add("norm.weight", "final_norm/scale", _same((c.dim,)))
    add("norm.bias", "final_norm/bias", _same((c.dim,)))
    for i, n in enumerate(c.vocab_sizes):
        add(f"to_logits.{i}.weight", f"heads_{i}/kernel", _linear((c.dim,), (n,)))
        add(f"to_logits.{i}.bias", f"heads_{i}/bias", _same((n,)))
    return rows


def rotary_inv_freq(rot_dim: int) -> np.ndarray:
    """The `inv_freq` buffer x-transformers stores for rotary embeddings."""
    return (1.0 / 10000 ** (np.arange(0, rot_dim, 2, dtype=np.float32) / rot_dim)).astype(np.float32)


# ----------------------------------------------------------------------------- conversion


def _strip(state_dict):
    """Drop the `decoder.net.` prefix; every key must carry it if any does."""
    keys = list(state_dict)
    if any(k.startswith(PREFIX) for k in keys):
        for k in keys:
            if not k.startswith(PREFIX):
                raise CheckpointMismatchError(f"unexpected key {k!r} (outside {PREFIX!r})")
        return {k[len(PREFIX) :]: np.asarray(v) for k, v in state_dict.items()}
    return {k: np.asarray(v) for k, v in state_dict.items()}


def _need(sd, key, ndim=None):
    if key not in sd:
        raise CheckpointMismatchError(f"missing key {PREFIX + key!r}")
    if ndim is not None and sd[key].ndim != ndim:
        raise CheckpointMismatchError(
            f"{PREFIX + key!r} has shape {sd[key].shape}, expected {ndim} dimensions"
        )
    return sd[key]


def infer_config(
    state_dict, *, heads: int | None = None, pos_emb: str | None = None, **overrides
) -> MMTConfig:
    """An MMTConfig matching the shapes of a (prefixed or bare) reference state dict.

    Heads cannot be read from the shapes (q/k/v are [heads*head_dim, dim]); like x-transformers
    we take head_dim = 64 unless `heads` is given. pos_emb: "absolute" with a position table,
    "rotary" with the rotary inv_freq buffer, otherwise "none" (pass pos_emb to override).
    """
    sd = _strip(state_dict)
    vocab = tuple(int(_need(sd, f"token_emb.{i}.emb.weight", 2).shape[0]) for i in range(len(FIELDS)))
    dim = int(sd["token_emb.0.emb.weight"].shape[1])
    layer_ids = {int(m.group(1)) for k in sd if (m := re.match(r"attn_layers\.layers\.(\d+)\.", k))}
    if not layer_ids:
        raise CheckpointMismatchError(f"missing key {PREFIX + 'attn_layers.layers.0.0.0.weight'!r}")
    depth = (max(layer_ids) + 2) // 2
    inner = int(_need(sd, "attn_layers.layers.0.1.to_q.weight", 2).shape[0])
    ff_inner = int(_need(sd, "attn_layers.layers.1.1.net.0.0.weight", 2).shape[0])
    settings = dict(dim=dim, depth=depth, vocab_sizes=vocab, ff_mult=max(ff_inner // dim, 1))
    if heads is None:
        head_dim = 64 if inner % 64 == 0 else inner
        heads = inner // head_dim
    elif inner % heads:
        raise CheckpointMismatchError(f"{inner} attention dims do not split into {heads} heads")
    settings.update(heads=heads, head_dim=inner // heads)
    if pos_emb is None:
        pos_emb = "absolute" if "pos_emb.emb.weight" in sd else "rotary" if ROTARY_BUFFER in sd else "none"
    settings["pos_emb"] = pos_emb
    if "pos_emb.emb.weight" in sd:
        settings["max_seq_len"] = int(sd["pos_emb.emb.weight"].shape[0])
    if ROTARY_BUFFER in sd:
        settings["rotary_dim"] = 2 * int(sd[ROTARY_BUFFER].shape[0])
    settings.update(overrides)
    try:
        return MMTConfig(**settings)
    except ValueError as err:
        raise CheckpointMismatchError(f"state dict gives an invalid model: {err}") from err


def params_from_state_dict(state_dict, config: MMTConfig | None = None, **infer_kwargs):
    """Reference state dict -> (params pytree of float32 NumPy arrays, config)."""
    sd = _strip(state_dict)
    config = config or infer_config(state_dict, **infer_kwargs)
    rows = layout(config)
    expected = {key for key, *_ in rows}
    if config.pos_emb == "rotary" and ROTARY_BUFFER in sd:
        buf = np.asarray(sd[ROTARY_BUFFER], np.float32)
        want = rotary_inv_freq(config.rotary_dims)
        if buf.shape != want.shape or not np.allclose(buf, want, rtol=1e-5):
            raise CheckpointMismatchError(
                f"{PREFIX + ROTARY_BUFFER!r} is not the rotary table of dimension {config.rotary_dims}"
            )
        expected.add(ROTARY_BUFFER)
    for key in sd:
        if key not in expected:
            raise CheckpointMismatchError(
                f"unexpected key {PREFIX + key!r} for a {config.depth}-layer {config.pos_emb} model"
            )
    params = {}
    for key, path, shape, to_ours, _ in rows:
        value = _need(sd, key)
        if tuple(value.shape) != shape:
            raise CheckpointMismatchError(
                f"{PREFIX + key!r} has shape {tuple(value.shape)}, expected {shape}"
            )
        if not np.all(np.isfinite(value)):
            raise CheckpointMismatchError(f"{PREFIX + key!r} holds NaN or infinite values")
        node = params
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = np.ascontiguousarray(to_ours(value.astype(np.float32)))
    return params, config


def state_dict_to_reference(params, config: MMTConfig) -> dict:
    """Our params -> the reference state dict (prefixed keys, NumPy float32 arrays)."""
    out = {}
    for key, path, shape, _, to_ref in layout(config):
        node = params
        for part in path:
            node = node[part]
        value = np.asarray(to_ref(np.asarray(node, np.float32)))
        assert value.shape == shape, (key, value.shape, shape)
        out[PREFIX + key] = value
    if config.pos_emb == "rotary":
        out[PREFIX + ROTARY_BUFFER] = rotary_inv_freq(config.rotary_dims)
    return out


def save_reference_npz(path, params, config: MMTConfig) -> None:
    """Our params as the reference's state dict in an .npz (e.g. for torch.load_state_dict)."""
    with atomic_file(path) as f:
        np.savez(f, **state_dict_to_reference(params, config))


# ----------------------------------------------------------------------------- files


def load_state_dict(path) -> dict:
    """Read a reference state dict from `.pt`/`.pth` (PyTorch) or `.npz`."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: checkpoint file not found")
    if path.suffix == ".npz":
        try:
            with np.load(path, allow_pickle=False) as data:
                return {k: data[k] for k in data.files}
        except (OSError, ValueError) as err:
            raise UserError(f"{path}: cannot read as .npz: {err}") from err
    try:
        import torch
    except ImportError as err:
        raise UserError(
            f"{path}: reading PyTorch checkpoints needs torch; "
            f'install it with `pip install -e ".[torch]"` '
            f"(or pass an .npz of the state dict)"
        ) from err
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises many types for corrupt/unsupported files
        raise UserError(f"{path}: cannot read as a PyTorch checkpoint: {err}") from err
    if isinstance(obj, dict) and "state_dict" in obj and isinstance(obj["state_dict"], dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict):
        raise UserError(f"{path}: expected a state dict, found {type(obj).__name__}")
    return {k: v.detach().cpu().float().numpy() for k, v in obj.items() if hasattr(v, "detach")}


def reference_train_args(path) -> dict:
    """Model settings from the reference's `train-args.json` (found beside checkpoints/)."""
    args = json.loads(Path(path).read_text())
    out = {}
    if "heads" in args:
        out["heads"] = int(args["heads"])
    if "dropout" in args:
        out["dropout"] = float(args["dropout"])
    if args.get("rel_pos_emb"):
        out["pos_emb"] = "rotary"
    elif "abs_pos_emb" in args and not args["abs_pos_emb"]:
        out["pos_emb"] = "none"
    return out


def save_converted(out_dir, params, config: MMTConfig, source: str = "") -> Path:
    """Write `params` of a model `config` as an MMT run folder (train_kit.run: run.json with a
    full Config around the model, + params/), which mmt_jax.load reads."""
    from train_kit.run import save_run

    return save_run(out_dir, system="mmt", config=Config.for_model(config), params=params, source=str(source))


def convert_file(checkpoint, out_dir, *, train_args=None, **infer_kwargs):
    """`mmt-jax convert-reference`: read, convert, save; returns (out_dir, config, n_params)."""
    checkpoint = Path(checkpoint)
    if train_args is None:  # the reference keeps it at <exp>/train-args.json, beside checkpoints/
        candidate = checkpoint.absolute().parent.parent / "train-args.json"
        train_args = candidate if candidate.is_file() else None
    settings = reference_train_args(train_args) if train_args else {}
    settings.update({k: v for k, v in infer_kwargs.items() if v is not None})
    state_dict = load_state_dict(checkpoint)
    params, config = params_from_state_dict(state_dict, **settings)
    n_params = sum(int(np.prod(v.shape)) for v in _leaves(params))
    save_converted(out_dir, params, config, source=os.fspath(checkpoint))
    return Path(out_dir), config, n_params


def _leaves(tree):
    if isinstance(tree, dict):
        for v in tree.values():
            yield from _leaves(v)
    else:
        yield tree

"""Released vocoder generator checkpoints -> our Flax parameters.

Layouts: the `bigvgan` package (`bigvgan_generator.pt` = {"generator": state dict} beside its
config.json; `ups.{i}.0.*`, `resblocks.{k}.activations.{m}.act.{alpha,beta}`) and HiFi-GAN's
`g_XXXXXXXX` files ({"generator": ...}; `ups.{i}.*`, `resblocks.{k}.convs1.{j}.*`). Weight norm
in either form (`weight_g`/`weight_v`, or `parametrizations.weight.original0/1`) is folded:
w = g · v / |v|, the norm over every axis but the first. The anti-aliasing filters stored as
buffers are recomputed, not read.

    cfg, params = load_checkpoint_dir(DIR)        # config.json + bigvgan_generator.pt or g_*
    params = params_from_state_dict(sd, cfg)      # one UserError names every bad key
"""

from __future__ import annotations

import glob
import json
import os

import jax
import numpy as np

from model_kit.state_dict import check_keys, read_state_dict
from model_kit.vocoder import init_generator
from model_kit.vocoder_config import VocoderConfig
from music_codecs.errors import UserError

BUFFERS = (".upsample.filter", ".downsample.lowpass.filter")


def _torch_key(path, cfg):
    """('resblocks_3', 'convs1_0', 'kernel') -> 'resblocks.3.convs1.0.weight'."""
    parts = []
    for name in path[:-1]:
        stem, _, idx = name.rpartition("_")
        if idx.isdigit():
            parts += [stem, idx]
            if stem == "ups" and cfg.kind == "bigvgan":
                parts.append("0")  # BigVGAN nests each upsampler in a ModuleList
            if stem == "activations":
                parts.append("act")
        else:
            parts.append(name)
            if name == "activation_post":
                parts.append("act")
    leaf = {"kernel": "weight", "bias": "bias", "alpha": "alpha", "beta": "beta"}[path[-1]]
    return ".".join(parts + [leaf])


def _to_torch_shape(path, shape):
    if path[-1] != "kernel":
        return tuple(shape)
    k, cin, cout = shape
    return (cin, cout, k) if path[0].startswith("ups_") else (cout, cin, k)


def _leaves(tree, prefix=()):
    for k, v in tree.items():
        if isinstance(v, dict):
            yield from _leaves(v, prefix + (k,))
        else:
            yield prefix + (k,), v


def fold_weight_norm(sd):
    """{..weight_g, ..weight_v} or parametrizations -> {..weight}; other keys unchanged."""
    out, pairs = {}, {}
    for k, v in sd.items():
        for g, vv, stem in (
            ("weight_g", "weight_v", None),
            ("parametrizations.weight.original0", "parametrizations.weight.original1", None),
        ):
            if k.endswith(g) or k.endswith(vv):
                base = k[: -len(g)] if k.endswith(g) else k[: -len(vv)]
                pairs.setdefault(base, {})["g" if k.endswith(g) else "v"] = np.asarray(v, np.float64)
                break
        else:
            out[k] = v
        del stem
    for base, gv in pairs.items():
        if set(gv) != {"g", "v"}:
            out[base + ("weight_g" if "g" in gv else "weight_v")] = gv.get("g", gv.get("v"))
            continue
        v = gv["v"]
        norm = np.sqrt(np.sum(v**2, axis=tuple(range(1, v.ndim)), keepdims=True))
        out[base + "weight"] = (gv["g"].reshape(norm.shape) * v / norm).astype(np.float32)
    return out


def expected_shapes(cfg: VocoderConfig):
    shapes = jax.eval_shape(lambda: init_generator(cfg, jax.random.key(0)))
    return {_torch_key(p, cfg): _to_torch_shape(p, s.shape) for p, s in _leaves(shapes)}


def params_from_state_dict(sd, cfg: VocoderConfig, what="vocoder generator"):
    sd = fold_weight_norm(sd)
    check_keys(expected_shapes(cfg), sd, f"{what} ({cfg.kind})", ignore=BUFFERS)
    shapes = jax.eval_shape(lambda: init_generator(cfg, jax.random.key(0)))
    params = {}
    for path, _ in _leaves(shapes):
        w = np.asarray(sd[_torch_key(path, cfg)], np.float32)
        if path[-1] == "kernel":
            w = w.transpose(2, 0, 1) if path[0].startswith("ups_") else w.transpose(2, 1, 0)
        node = params
        for name in path[:-1]:
            node = node.setdefault(name, {})
        node[path[-1]] = w
    return params


def load_checkpoint_dir(directory):
    """(cfg, params) from a released checkpoint folder: config.json + bigvgan_generator.pt
    (BigVGAN) or + g_* (HiFi-GAN; the newest g_ file)."""
    conf = os.path.join(directory, "config.json")
    if not os.path.isfile(conf):
        raise UserError(f"{directory}: no config.json (a vocoder checkpoint folder needs one)")
    with open(conf) as f:
        try:
            h = json.load(f)
        except json.JSONDecodeError as err:
            raise UserError(f"{conf}: not JSON: {err}") from err
    big = os.path.join(directory, "bigvgan_generator.pt")
    gens = sorted(glob.glob(os.path.join(directory, "g_*")))
    if os.path.isfile(big) or "activation" in h:
        cfg = VocoderConfig.from_bigvgan_json(h)
        path = big
    elif gens:
        cfg, path = VocoderConfig.from_hifigan_json(h), gens[-1]
    else:
        raise UserError(f"{directory}: neither bigvgan_generator.pt nor a HiFi-GAN g_* file")
    return cfg, params_from_state_dict(read_state_dict(path), cfg, what=path), h

"""Import the authors' released Keras checkpoints (`models/<dataset>/<lstm|transformer>/<config>/
best_model.hdf5` in the reference repository, reference §13) as Flax parameters.

Keras names its layers by creation order (lstm_4/lstm_cell_3, dense_7, layer_normalization_2,
...), so weights are matched by role and numeric order rather than by exact name. The fixed tables
stored in the file (sinusoidal beat table, frequency table) are compared with ours instead of being
loaded, which checks our feature encodings against the reference's.
"""

from __future__ import annotations

import re

import numpy as np

from arranger_jax import features as F
from arranger_jax.config import ArrangerConfig
from music_codecs.errors import UserError


def read_hdf5_weights(path):
    """{weight path: array} of a Keras .hdf5 weights file."""
    try:
        import h5py
    except ImportError:
        raise UserError('reading Keras checkpoints needs h5py: pip install -e ".[convert]"') from None
    weights = {}
    try:
        with h5py.File(path, "r") as f:
            f.visititems(
                lambda name, obj: (
                    weights.__setitem__(name, np.asarray(obj)) if isinstance(obj, h5py.Dataset) else None
                )
            )
    except OSError as err:
        raise UserError(f"{path}: not a readable HDF5 file ({err})") from None
    if not weights:
        raise UserError(f"{path}: holds no weights")
    return weights


def _number(name):
    """Keras's creation counter at the end of a layer name: dense -> 0, dense_7 -> 7."""
    match = re.search(r"_(\d+)$", name)
    return int(match.group(1)) if match else 0


def _ordered(weights, pattern):
    """Weights whose path matches `pattern` (its group 1 = the layer name), by layer number."""
    found = []
    for path, value in weights.items():
        match = re.search(pattern, path)
        if match:
            found.append((_number(match.group(1)), path, value))
    return [(p, v) for _, p, v in sorted(found)]


def _get(weights, suffix):
    hits = [v for p, v in weights.items() if p.endswith(suffix)]
    if len(hits) != 1:
        raise UserError(f"checkpoint has {len(hits)} weights ending in {suffix!r}, expected 1")
    return hits[0]


def _input_params(weights, config):
    params = {}
    if not config.embedding:
        return params
    params["pitch_embedding"] = {"embedding": _get(weights, "pitch_embedding/embeddings:0")}
    if config.time_encoding == "beat_position":
        params["position_embedding"] = {"embedding": _get(weights, "time_embedding_position/embeddings:0")}
    if config.use_duration:
        params["duration_embedding"] = {"embedding": _get(weights, "duration_embedding/embeddings:0")}
    return params


def fixed_table_errors(weights):
    """Largest absolute difference between the file's fixed tables and ours (per table found)."""
    out = {}
    for name, ours in (
        ("time_embedding_beat", F.sinusoid_table(F.MAX_BEAT + 1, F.EMBED_DIM)),
        ("frequency_mapping", F.frequency_table()),
    ):
        hits = [v for p, v in weights.items() if f"{name}/embeddings" in p]
        if hits:
            out[name] = float(np.abs(hits[0] - ours).max())
    return out


def _lstm_params(weights, config):
    params = {"inputs": _input_params(weights, config)}
    cells = _ordered(weights, r"/(lstm_cell(?:_\d+)?)/kernel:0$")
    expected = config.layers * (1 if config.online else 2)
    if len(cells) != expected:
        raise UserError(f"checkpoint has {len(cells)} LSTM cells, a {config.name} model needs {expected}")
    for index, (path, _) in enumerate(cells):
        prefix = path[: -len("kernel:0")]
        layer = {
            "kernel": weights[prefix + "kernel:0"],
            "recurrent_kernel": weights[prefix + "recurrent_kernel:0"],
            "bias": weights[prefix + "bias:0"],
        }
        if config.online:
            params[f"lstm_{index}"] = layer
        else:  # cells are created forward then backward for every layer
            direction = "backward" if "backward" in path else "forward"
            params[f"{direction}_{index // 2}"] = layer
    _add_norms(params, weights, "layer_norm_{}", config.layers)
    params["head"] = _dense(weights, _ordered(weights, r"/(dense(?:_\d+)?)/kernel:0$")[-1][0])
    return params


def _dense(weights, kernel_path):
    prefix = kernel_path[: -len("kernel:0")]
    return {"kernel": weights[prefix + "kernel:0"], "bias": weights[prefix + "bias:0"]}


def _add_norms(params, weights, template, count, names=None):
    norms = _ordered(weights, r"/(layer_normalization(?:_\d+)?)/gamma:0$")
    if len(norms) != count:
        raise UserError(f"checkpoint has {len(norms)} layer norms, expected {count}")
    for index, (path, gamma) in enumerate(norms):
        target = names[index] if names else template.format(index)
        params[target] = {"scale": gamma, "bias": weights[path[: -len("gamma:0")] + "beta:0"]}


def _transformer_params(weights, config):
    params = {"inputs": _input_params(weights, config)}
    denses = _ordered(weights, r"/(dense(?:_\d+)?)/kernel:0$")
    per_layer = 6  # query, key, value, output, ffn in, ffn out (creation order)
    if len(denses) != 2 + per_layer * config.layers:
        raise UserError(
            f"checkpoint has {len(denses)} dense layers, a {config.name} model needs "
            f"{2 + per_layer * config.layers}"
        )
    params["input_projection"] = _dense(weights, denses[0][0])
    for layer in range(config.layers):
        block = denses[1 + per_layer * layer : 1 + per_layer * (layer + 1)]
        params[f"attention_{layer}"] = {
            role: _dense(weights, path)
            for role, (path, _) in zip(("query", "key", "value", "out"), block[:4])
        }
        params[f"ffn_in_{layer}"] = _dense(weights, block[4][0])
        params[f"ffn_out_{layer}"] = _dense(weights, block[5][0])
    params["head"] = _dense(weights, denses[-1][0])
    names = [f"{kind}_norm_{layer}" for layer in range(config.layers) for kind in ("attention", "ffn")]
    _add_norms(params, weights, None, 2 * config.layers, names)
    return params


def keras_to_flax(path, config: ArrangerConfig):
    """Flax params for `config` from a reference .hdf5 file; returns (params, fixed_table_errors)."""
    weights = read_hdf5_weights(path)
    params = (_lstm_params if config.arch == "lstm" else _transformer_params)(weights, config)
    return params, fixed_table_errors(weights)


def check_shapes(params, reference):
    """Raise UserError unless `params` has exactly the tree and shapes of `reference`."""
    import jax

    flat = dict(jax.tree_util.tree_flatten_with_path(params)[0])
    ref = dict(jax.tree_util.tree_flatten_with_path(reference)[0])
    if set(map(str, flat)) != set(map(str, ref)):
        missing = sorted(set(map(str, ref)) - set(map(str, flat)))
        extra = sorted(set(map(str, flat)) - set(map(str, ref)))
        raise UserError(f"converted weights do not fit the model: missing {missing[:3]}, extra {extra[:3]}")
    for key, value in flat.items():
        match = {str(k): v for k, v in ref.items()}[str(key)]
        if tuple(np.shape(value)) != tuple(match.shape):
            raise UserError(
                f"{jax.tree_util.keystr(key)}: checkpoint shape {np.shape(value)} != model {match.shape}"
            )

"""Reference-checkpoint import: a Keras-layout HDF5 file written from known weights reads back, and
`convert-reference` turns it into a run folder that the loader reads."""

import jax
import numpy as np
import pytest

from arranger_jax import convert, data
from arranger_jax import features as F
from arranger_jax.models import ArrangerConfig, build_model
from train_kit.sharding import unbox

h5py = pytest.importorskip("h5py")
K = 4


def _example():
    return F.batch([F.piece_inputs(data.Piece("x", [0, 24], [60, 64], [24, 24], [64, 64], [0, 1]), K)])[0]


def _write(path, entries):
    with h5py.File(path, "w") as f:
        for name, value in entries.items():
            f.create_dataset(name, data=np.asarray(value))


def _inputs(p, prefix):
    out = {
        f"{prefix}/input_layer/pitch_embedding/embeddings:0": p["inputs"]["pitch_embedding"]["embedding"],
        f"{prefix}/input_layer/time_embedding_position/embeddings:0": p["inputs"]["position_embedding"][
            "embedding"
        ],
        f"{prefix}/input_layer/time_embedding_beat/embeddings:0": F.sinusoid_table(4097, 16),
        f"{prefix}/input_layer/frequency_mapping/embeddings:0": F.frequency_table(),
    }
    if "duration_embedding" in p["inputs"]:
        out[f"{prefix}/input_layer/duration_embedding/embeddings:0"] = p["inputs"]["duration_embedding"][
            "embedding"
        ]
    return out


def _cell(prefix, layer):
    return {f"{prefix}/{k}:0": layer[k] for k in ("kernel", "recurrent_kernel", "bias")}


def _params(config):
    boxed = build_model(config).init(jax.random.key(7), _example())["params"]  # logical-name boxes
    return jax.tree.map(np.asarray, unbox(boxed))


def _same(a, b):
    flat_a, flat_b = (
        jax.tree_util.tree_flatten_with_path(a)[0],
        dict(jax.tree_util.tree_flatten_with_path(b)[0]),
    )
    assert len(flat_a) == len(flat_b)
    for key, value in flat_a:
        np.testing.assert_array_equal(value, flat_b[key])


def _online_lstm_file(path, config):
    p = _params(config)
    pre = "lstm_arranger/lstm_arranger"
    entries = _inputs(p, pre)
    for i in range(3):
        entries.update(_cell(f"{pre}/lstm/lstm_{4 + i}/lstm_cell_{3 + i}", p[f"lstm_{i}"]))
        suffix = "" if i == 0 else f"_{i}"
        entries[f"{pre}/lstm/layer_normalization{suffix}/gamma:0"] = p[f"layer_norm_{i}"]["scale"]
        entries[f"{pre}/lstm/layer_normalization{suffix}/beta:0"] = p[f"layer_norm_{i}"]["bias"]
    entries[f"{pre}/dense/kernel:0"], entries[f"{pre}/dense/bias:0"] = p["head"]["kernel"], p["head"]["bias"]
    _write(path, entries)
    return p


def test_online_lstm_round_trip(tmp_path):
    config = ArrangerConfig(num_parts=K, units=8, layers=3, use_entry_hints=True, use_duration=True)
    p = _online_lstm_file(tmp_path / "m.hdf5", config)
    params, errors = convert.keras_to_flax(tmp_path / "m.hdf5", config)
    _same(p, params)
    assert errors == {"time_embedding_beat": 0.0, "frequency_mapping": 0.0}


def test_bidirectional_lstm_round_trip(tmp_path):
    config = ArrangerConfig(num_parts=K, units=8, layers=3, online=False)
    p = _params(config)
    pre = "lstm_arranger/lstm_arranger"
    entries = _inputs(p, pre)
    for i in range(3):
        wrap = "bidirectional" + ("" if i == 0 else f"_{i}")
        # cell numbers cross 10 (lstm_cell_10, _11): order must be numeric, not textual
        entries.update(
            _cell(f"{pre}/lstm/{wrap}/forward_lstm_{4 + i}/lstm_cell_{4 + 3 * i}", p[f"forward_{i}"])
        )
        entries.update(
            _cell(f"{pre}/lstm/{wrap}/backward_lstm_{4 + i}/lstm_cell_{5 + 3 * i}", p[f"backward_{i}"])
        )
        suffix = "" if i == 0 else f"_{i}"
        entries[f"{pre}/lstm/layer_normalization{suffix}/gamma:0"] = p[f"layer_norm_{i}"]["scale"]
        entries[f"{pre}/lstm/layer_normalization{suffix}/beta:0"] = p[f"layer_norm_{i}"]["bias"]
    entries[f"{pre}/dense/kernel:0"], entries[f"{pre}/dense/bias:0"] = p["head"]["kernel"], p["head"]["bias"]
    _write(tmp_path / "m.hdf5", entries)
    _same(p, convert.keras_to_flax(tmp_path / "m.hdf5", config)[0])


def test_transformer_round_trip(tmp_path):
    config = ArrangerConfig(num_parts=K, arch="transformer", units=8, heads=2, ffn_units=8, layers=3)
    p = _params(config)
    pre = "transformer_arranger/transformer_arranger"
    entries = _inputs(p, pre)

    def dense(name, layer):
        entries[f"{pre}/transformer/{name}/kernel:0"] = layer["kernel"]
        entries[f"{pre}/transformer/{name}/bias:0"] = layer["bias"]

    dense("dense", p["input_projection"])
    for i in range(3):
        block = "transformer_layer" + ("" if i == 0 else f"_{i}")
        mha = f"{block}/multi_head_attention" + ("" if i == 0 else f"_{i}")
        for j, role in enumerate(("query", "key", "value", "out")):
            dense(f"{mha}/dense_{1 + 6 * i + j}", p[f"attention_{i}"][role])
        dense(f"{block}/sequential/dense_{5 + 6 * i}", p[f"ffn_in_{i}"])
        dense(f"{block}/sequential/dense_{6 + 6 * i}", p[f"ffn_out_{i}"])
        for j, kind in enumerate(("attention", "ffn")):
            n = 2 * i + j
            norm = f"{block}/layer_normalization" + ("" if n == 0 else f"_{n}")
            entries[f"{pre}/transformer/{norm}/gamma:0"] = p[f"{kind}_norm_{i}"]["scale"]
            entries[f"{pre}/transformer/{norm}/beta:0"] = p[f"{kind}_norm_{i}"]["bias"]
    entries[f"{pre}/dense_19/kernel:0"], entries[f"{pre}/dense_19/bias:0"] = (
        p["head"]["kernel"],
        p["head"]["bias"],
    )
    _write(tmp_path / "m.hdf5", entries)
    _same(p, convert.keras_to_flax(tmp_path / "m.hdf5", config)[0])


def test_wrong_architecture_is_a_user_error(tmp_path):
    from music_codecs.errors import UserError

    _write(tmp_path / "m.hdf5", {"x/dense/kernel:0": np.zeros((2, 2))})
    with pytest.raises(UserError):
        convert.keras_to_flax(tmp_path / "m.hdf5", ArrangerConfig(embedding=False))
    with pytest.raises(UserError):
        convert.read_hdf5_weights(tmp_path / "missing.hdf5")


def test_convert_reference_writes_a_run(tmp_path, capsys):
    import json

    import arranger_tiny

    from arranger_jax import cli
    from arranger_jax.load import abstract_params, load
    from arranger_jax.models import reference_config

    name = "lstm/default_embedding_onsethint_duration"
    config = reference_config(name, K)  # the released size: the command builds it from the name
    p = _online_lstm_file(tmp_path / "best_model.hdf5", config)
    convert.check_shapes(p, abstract_params(config))
    folder = arranger_tiny.make_dataset(tmp_path / "data")
    with pytest.raises(SystemExit) as done:
        cli.main(
            [
                "convert-reference",
                "--checkpoint",
                str(tmp_path / "best_model.hdf5"),
                "--name",
                name,
                "--out",
                str(tmp_path / "runs" / "ref"),
                "--data",
                folder,
            ]
        )
    assert done.value.code == 0
    assert "test accuracy" in capsys.readouterr().out
    trained = load(tmp_path / "runs" / "ref")
    assert trained.config.model == config and trained.dataset == "bach"
    _same(p, trained.params)
    info = json.loads((tmp_path / "runs" / "ref" / "run.json").read_text())
    assert info["system"] == "arranger" and info["source"] == str(tmp_path / "best_model.hdf5")
    assert 0 <= info["metrics"]["test_accuracy"] <= 1
    with pytest.raises(SystemExit) as done:
        cli.main(["evaluate", "--data", folder, "--runs", str(tmp_path / "runs")])
    assert done.value.code == 0
    assert f"bach lstm_eh: {name}, converted from {tmp_path / 'best_model.hdf5'}" in capsys.readouterr().out

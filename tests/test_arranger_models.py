"""Arranger models: parameter counts of the reference checkpoints, logical axis names, causality,
padding, streaming."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from arranger_jax import data
from arranger_jax import features as F
from arranger_jax import models as Mo
from train_kit.sharding import unnamed_params

K = 4

# Bach parameter counts of the released Keras checkpoints (reference §4), fixed tables included.
REFERENCE_COUNTS = {
    "lstm/default": 331_653,
    "lstm/default_embedding": 423_846,
    "lstm/default_embedding_onsethint": 425_894,
    "lstm/default_embedding_onsethint_duration": 437_174,
    "lstm/bidirectional": 233_349,
    "lstm/bidirectional_embedding": 325_542,
    "lstm/bidirectional_embedding_onsethint": 327_590,
    "lstm/bidirectional_embedding_onsethint_duration": 338_870,
    "transformer/default": 398_469,
    "transformer/default_embedding": 472_614,
    "transformer/default_embedding_onsethint": 473_126,
    "transformer/lookahead_embedding_onsethint_duration": 478_262,
}


def _inputs(n=12, seed=0, batch=2):
    rng = np.random.default_rng(seed)
    examples = []
    for b in range(batch):
        labels = rng.integers(0, K, n)
        piece = data.Piece(
            "x",
            np.sort(rng.integers(0, 2000, n)),
            rng.integers(30, 90, n),
            rng.integers(1, 60, n),
            np.full(n, 64),
            labels,
        )
        examples.append(F.piece_inputs(piece, K))
    inputs, _ = F.batch(examples)
    return {k: jnp.asarray(v) for k, v in inputs.items()}


@pytest.mark.parametrize("name", sorted(REFERENCE_COUNTS))
def test_parameter_counts_match_reference(name):
    config = Mo.reference_config(name, K)
    model = Mo.build_model(config)
    shapes = jax.eval_shape(lambda: model.init(jax.random.key(0), _inputs(5, batch=1)))
    assert Mo.count_parameters(shapes["params"], config) == REFERENCE_COUNTS[name]
    assert Mo.reference_name(config) == name
    assert unnamed_params(shapes) == []  # every parameter can be sharded by mesh.fsdp / tensor


@pytest.mark.parametrize("encoding", Mo.TIME_ENCODINGS)
@pytest.mark.parametrize("arch", ["lstm", "transformer"])
def test_every_parameter_has_logical_names(arch, encoding):
    config = Mo.ArrangerConfig(
        num_parts=K,
        arch=arch,
        units=8,
        layers=1,
        heads=2,
        ffn_units=8,
        time_encoding=encoding,
        use_duration=True,
        use_entry_hints=True,
        use_pitch_hints=True,
    )
    shapes = jax.eval_shape(lambda: Mo.build_model(config).init(jax.random.key(0), _inputs(5, batch=1)))
    assert unnamed_params(shapes) == []


def _tiny(arch, online, **kw):
    return Mo.ArrangerConfig(
        num_parts=K,
        arch=arch,
        online=online,
        units=8,
        layers=2,
        heads=2,
        ffn_units=8,
        use_entry_hints=True,
        use_duration=True,
        **kw,
    )


CASES = [("lstm", True), ("lstm", False), ("transformer", True), ("transformer", False)]


@pytest.mark.parametrize("arch,online", CASES)
def test_later_notes_change_earlier_predictions_only_offline(arch, online):
    config = _tiny(arch, online)
    model = Mo.build_model(config)
    x = _inputs()
    params = model.init(jax.random.key(1), x)
    y = x.copy()
    y["pitch"] = x["pitch"].at[:, 8:].set((x["pitch"][:, 8:] + 7) % 128 + 1)
    y["duration"] = x["duration"].at[:, 8:].add(5)
    a, b = model.apply(params, x), model.apply(params, y)
    assert a.shape == (2, 12, K + 1)
    same_before = np.allclose(a[:, :8], b[:, :8], atol=1e-6)
    assert same_before == online
    assert not np.allclose(a[:, 8:], b[:, 8:])


@pytest.mark.parametrize("arch,online", CASES)
def test_right_padding_does_not_change_real_notes(arch, online):
    config = _tiny(arch, online)
    model = Mo.build_model(config)
    x = _inputs(10)
    padded = {
        k: (v if k == "pitch_hint" else jnp.pad(v, [(0, 0), (0, 5)] + [(0, 0)] * (v.ndim - 2)))
        for k, v in x.items()
    }
    params = model.init(jax.random.key(2), x)
    np.testing.assert_allclose(model.apply(params, padded)[:, :10], model.apply(params, x), atol=1e-5)


def test_online_lstm_continues_from_a_carry():
    config = _tiny("lstm", True)
    model = Mo.build_model(config)
    x = _inputs(12)
    params = model.init(jax.random.key(3), x)
    full = model.apply(params, x)
    zeros = tuple((jnp.zeros((2, 8)), jnp.zeros((2, 8))) for _ in range(config.layers))
    first = {k: (v if k == "pitch_hint" else v[:, :5]) for k, v in x.items()}
    rest = {k: (v if k == "pitch_hint" else v[:, 5:]) for k, v in x.items()}
    a, carry = model.apply(params, first, carry=zeros)
    b, _ = model.apply(params, rest, carry=carry)
    np.testing.assert_allclose(jnp.concatenate([a, b], 1), full, atol=1e-5)


def test_pitch_hints_use_the_shared_pitch_table():
    config = Mo.ArrangerConfig(num_parts=K, units=8, layers=1, use_pitch_hints=True)
    model = Mo.build_model(config)
    x = _inputs(6)
    params = model.init(jax.random.key(4), x)
    assert "pitch_embedding" in params["params"]["inputs"]
    assert len(params["params"]["inputs"]) == 2  # pitch and position tables only
    y = dict(x, pitch_hint=x["pitch_hint"] + 1)
    assert not np.allclose(model.apply(params, x), model.apply(params, y))


def test_prediction_ignores_the_padding_class():
    logits = jnp.array([[[9.0, 1.0, 2.0, 0.0]]])
    assert Mo.predict_parts(logits).tolist() == [[1]]


def test_bad_names_are_user_errors():
    from music_codecs.errors import UserError

    with pytest.raises(UserError):
        Mo.reference_config("lstm/forward_embedding")
    with pytest.raises(UserError):
        Mo.ArrangerConfig(arch="gru")

"""Self-attention analysis: both pair definitions on hand-made matrices, and the model's maps."""

import json
from fractions import Fraction

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import linen as nn
from hypothesis import given
from hypothesis import strategies as st

from mmt_jax import attention, codec
from mmt_jax.cli import COMMANDS, DESCRIPTION
from mmt_jax.model import MMTConfig, MusicTransformer
from train_kit.cli import run_cli

# One head over four events: a start-of-song row (code 0: skipped) then notes with codes 1, 2, 4.
VALUES = np.array([0, 1, 2, 4])
ATTN = np.array([[[1.0, 0.0, 0.0, 0.0], [0.5, 0.5, 0.0, 0.0], [0.2, 0.3, 0.5, 0.0], [0.1, 0.2, 0.3, 0.4]]])


def _at(stat, values, k):
    return values[..., k + stat.span]


def test_paper_definition_counts_only_earlier_keys():
    stat = attention.RelativeAttention(span=4, heads=1)
    stat.add(ATTN, VALUES, "paper")
    # pairs (s, t) with s > t, both notes: (2,1) diff -1 a .3; (3,1) diff -3 a .2; (3,2) diff -2 a .3
    expected = {-1: 0.3 / 0.8, -2: 0.3 / 0.8, -3: 0.2 / 0.8}
    for k in range(-4, 5):
        assert _at(stat, stat.relative()[0], k) == pytest.approx(expected.get(k, 0.0))
        assert _at(stat, stat.baseline(), k) == pytest.approx(1 / 3 if k in expected else 0.0)
    assert _at(stat, stat.gain()[0], -1) == pytest.approx(float(Fraction(3, 8) - Fraction(1, 3)))
    assert _at(stat, stat.gain()[0], -3) == pytest.approx(float(Fraction(1, 4) - Fraction(1, 3)))


def test_reference_variant_keeps_the_diagonal_and_the_full_square():
    stat = attention.RelativeAttention(span=4, heads=1)
    stat.add(ATTN, VALUES, "reference")
    # queries 1..3, keys 0..2, both notes: keys 1, 2 for queries 1, 2, 3 (six pairs).
    # attention: diff 0 -> .5 + .5, -1 -> .3, -2 -> .3, -3 -> .2, +1 -> 0 (a future key); sum 1.8
    expected = {0: 1.0 / 1.8, -1: 0.3 / 1.8, -2: 0.3 / 1.8, -3: 0.2 / 1.8, 1: 0.0}
    baseline = {0: 2 / 6, 1: 1 / 6, -1: 1 / 6, -2: 1 / 6, -3: 1 / 6}
    for k in range(-4, 5):
        assert _at(stat, stat.relative()[0], k) == pytest.approx(expected.get(k, 0.0))
        assert _at(stat, stat.baseline(), k) == pytest.approx(baseline.get(k, 0.0))
        assert _at(stat, stat.gain()[0], k) == pytest.approx(expected.get(k, 0.0) - baseline.get(k, 0.0))


def test_pieces_are_pooled_before_normalising():
    """The paper sums attention over all pieces, then divides (not a mean of per-piece shares)."""
    stat = attention.RelativeAttention(span=4, heads=1)
    stat.add(ATTN, VALUES, "paper")
    # a second piece: two notes with equal codes, query 1 gives key 0 weight .25
    stat.add(np.array([[[1.0, 0.0], [0.25, 0.75]]]), np.array([3, 3]), "paper")
    total = 0.8 + 0.25
    assert _at(stat, stat.relative()[0], 0) == pytest.approx(0.25 / total)
    assert _at(stat, stat.relative()[0], -1) == pytest.approx(0.3 / total)
    assert _at(stat, stat.baseline(), 0) == pytest.approx(1 / 4)


def _brute_force(attn, values, definition):
    """The paper's / reference's sums written as plain loops over (query, key)."""
    n = len(values)
    span = int(np.abs(values).max())
    att, cnt = np.zeros((attn.shape[0], 2 * span + 1)), np.zeros(2 * span + 1)
    for s in range(n):
        for t in range(n):
            if values[s] == 0 or values[t] == 0:
                continue
            if definition == "paper" and not s > t:
                continue
            if definition == "reference" and not (s >= 1 and t <= n - 2):
                continue
            k = values[t] - values[s] + span
            cnt[k] += 1
            att[:, k] += attn[:, s, t]
    return att / att.sum(axis=1, keepdims=True) - cnt / cnt.sum(), span


@given(st.integers(0, 2**31 - 1), st.integers(3, 12), st.sampled_from(attention.DEFINITIONS))
def test_gain_matches_a_brute_force_loop(seed, n, definition):
    rng = np.random.default_rng(seed)
    values = rng.integers(0, 6, n)
    values[1:3] = rng.integers(1, 6, 2)  # at least two notes, so some pair counts
    logits = np.where(np.tri(n, dtype=bool), rng.normal(size=(2, n, n)), -np.inf)
    attn = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    expected, span = _brute_force(attn, values, definition)
    stat = attention.RelativeAttention(span=span, heads=2)
    stat.add(attn, values, definition)
    np.testing.assert_allclose(stat.gain(), expected, atol=1e-12)


def test_model_maps_are_causal_rows_of_the_chosen_layer():
    config = MMTConfig.tiny(max_seq_len=64, depth=2)
    params = nn.meta.unbox(MusicTransformer(config).init(jax.random.key(0), jnp.zeros((1, 8, 6), jnp.int32)))[
        "params"
    ]
    codes = codec.encode_notes(np.array([[b, 0, 60 + b, 12, 0] for b in range(20)]))
    last, first = (attention.attention_maps(config, params, codes, layer) for layer in (-1, 0))
    assert last.shape == (config.heads, len(codes), len(codes))
    np.testing.assert_allclose(last.sum(-1), 1.0, rtol=1e-5)
    assert np.all(np.triu(last, k=1) == 0)
    assert not np.allclose(last, first)


def test_attention_command_writes_json_and_heat_maps(tmp_path):
    from mmt_jax.convert import save_converted

    config = MMTConfig.tiny(max_seq_len=32)
    params = jax.device_get(
        nn.meta.unbox(MusicTransformer(config).init(jax.random.key(2), jnp.zeros((1, 8, 6), jnp.int32)))[
            "params"
        ]
    )
    ckpt = save_converted(tmp_path / "ckpt", params, config)
    data = tmp_path / "data"
    (data / "notes").mkdir(parents=True)
    for i in range(2):
        np.save(
            data / "notes" / f"p{i}.npy",
            np.array([[b, 0, 60 + (b * (i + 2)) % 12, 12, 0] for b in range(30)], np.int64),
        )
    (data / "test-names.txt").write_text("p0\np1\n")
    argv = [
        "attention",
        "--checkpoint",
        str(ckpt),
        "--data",
        str(data),
        "--out",
        str(tmp_path / "out"),
        "--reference-variant",
    ]
    assert run_cli("mmt-jax", DESCRIPTION, COMMANDS, argv) == 0
    result = json.loads((tmp_path / "out" / "attention.json").read_text())
    assert result["definition"] == "reference" and result["pieces"] == 2
    pitch = result["fields"]["pitch"]
    assert pitch["differences"] == list(range(-25, 26))
    assert len(pitch["gain"]) == config.heads
    # gains of one head sum to zero (two distributions over the same differences)
    assert sum(v for v in pitch["gain"][0] if v is not None) == pytest.approx(0.0, abs=1e-4)
    for name in attention.ANALYSED:
        assert (tmp_path / "out" / f"attention-gain-{name}.png").stat().st_size > 1000

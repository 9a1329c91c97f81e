"""MusicTransformer: parameter counts, logical axes, init, masking, and the KV-cache decode path."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import linen as nn

from mmt_jax.model import POS_EMBS, MMTConfig, MusicTransformer, abstract_params, count_params, init_cache


def random_codes(rng, config, b, n):
    return np.stack([rng.integers(0, v, (b, n)) for v in config.vocab_sizes], -1).astype(np.int32)


def _setup(pos_emb):
    config = MMTConfig.tiny(pos_emb=pos_emb)
    model = MusicTransformer(config)
    rng = np.random.default_rng(0)
    codes = random_codes(rng, config, 3, 11)
    # eager (op by op): the small per-op programs are shared by the three variants
    params = nn.meta.unbox(model.init(jax.random.key(1), codes[:, :2]))
    full = model.apply(params, codes)
    return config, model, params, codes, full


@pytest.fixture(scope="module", params=POS_EMBS)
def tiny(request):
    """One tiny model per positional encoding (the cache tests run on all three)."""
    return _setup(request.param)


@pytest.fixture(scope="module")
def tiny_ape():
    return _setup("absolute")


def _decode(model, params, codes, cache, index, lengths=None):
    return model.apply(params, codes, cache, index, lengths, method=MusicTransformer.decode)


@pytest.mark.parametrize(
    "pos_emb, expected", [("absolute", 19_944_950), ("rotary", 19_420_662), ("none", 19_420_662)]
)
def test_paper_parameter_count(pos_emb, expected):
    assert count_params(nn.meta.unbox(abstract_params(MMTConfig(pos_emb=pos_emb)))) == expected


def test_every_parameter_has_logical_axes():
    boxed = abstract_params(MMTConfig.tiny())
    specs = jax.tree.leaves(
        nn.get_partition_spec(boxed), is_leaf=lambda x: isinstance(x, jax.sharding.PartitionSpec)
    )
    shapes = jax.tree.leaves(nn.meta.unbox(boxed))
    assert len(specs) == len(shapes)
    for spec, shape in zip(specs, shapes):
        assert len(spec) == len(shape.shape) and any(name is not None for name in spec)
    names = {name for spec in specs for name in spec}
    assert {"embed", "mlp", "heads", "kv", "vocab"} <= names


def test_init_follows_pytorch_defaults(tiny_ape):
    config, _, variables, _, _ = tiny_ape
    params = variables["params"]
    emb = np.asarray(params["token_emb_1"]["embedding"])  # kaiming normal, fan_in = dim
    assert abs(emb.std() - np.sqrt(2 / config.dim)) < 0.01
    assert abs(np.asarray(params["pos_emb"]["embedding"]).std() - 1.0) < 0.05
    wi = np.asarray(params["blocks_0"]["ff"]["wi"]["kernel"])  # U(+-1/sqrt(fan_in))
    bound = 1 / np.sqrt(config.dim)
    assert np.abs(wi).max() <= bound and np.abs(wi).max() > 0.95 * bound
    wo_bias = np.asarray(params["blocks_0"]["ff"]["wo"]["bias"])
    assert np.abs(wo_bias).max() <= 1 / np.sqrt(config.dim * config.ff_mult)
    np.testing.assert_array_equal(params["final_norm"]["scale"], 1.0)


def test_output_shapes_and_causality(tiny_ape):
    config, model, params, codes, full = tiny_ape
    assert [f.shape for f in full] == [(3, 11, n) for n in config.vocab_sizes]
    changed = codes.copy()
    changed[:, 7:] = 0  # the future must not move the past
    out = jax.jit(model.apply)(params, changed)
    np.testing.assert_allclose(out[2][:, :7], full[2][:, :7], atol=1e-5)
    assert np.abs(np.asarray(out[2][:, 8:] - full[2][:, 8:])).max() > 1e-3


def test_right_padding_leaves_real_rows_alone(tiny_ape):
    config, model, params, codes, full = tiny_ape
    mask = np.ones(codes.shape[:2], bool)
    mask[0, 5:] = False
    padded = codes.copy()
    padded[0, 5:] = 0
    out = jax.jit(model.apply)(params, padded, mask)
    np.testing.assert_allclose(out[4][0, :5], full[4][0, :5], atol=1e-5)
    np.testing.assert_allclose(out[4][1:], full[4][1:], atol=1e-5)


def test_one_event_at_a_time_matches_full_pass(tiny):
    config, model, params, codes, full = tiny
    cache = init_cache(config, 3, 16)
    steps = []
    for t in range(codes.shape[1]):
        logits, cache = _decode(model, params, codes[:, t : t + 1], cache, jnp.int32(t))
        steps.append(logits)
    for i in range(6):
        np.testing.assert_allclose(np.concatenate([s[i] for s in steps], 1), full[i], rtol=1e-4, atol=1e-4)


def test_prefill_then_steps_matches_full_pass(tiny):
    config, model, params, codes, full = tiny
    logits, cache = _decode(model, params, codes[:, :7], init_cache(config, 3, 16), 0)
    for i in range(6):
        np.testing.assert_allclose(logits[i], full[i][:, :7], rtol=1e-4, atol=1e-4)
    for t in range(7, codes.shape[1]):
        logits, cache = _decode(model, params, codes[:, t : t + 1], cache, jnp.int32(t))
        np.testing.assert_allclose(logits[3][:, 0], full[3][:, t], rtol=1e-4, atol=1e-4)


def test_prefill_then_steps_with_per_row_starts(tiny):
    """Prompts of lengths 2, 4 and 6 share one parallel prefill (right-padded, scalar index 0),
    then each row steps on from its own position (per-row index)."""
    config, model, params, codes, full = tiny
    lengths = np.array([2, 4, 6])
    prompt = codes[:, :6].copy()
    for row, n in enumerate(lengths):
        prompt[row, n:] = 0
    cache = init_cache(config, 3, 16)
    logits, cache = _decode(model, params, prompt, cache, 0, jnp.asarray(lengths))
    for row, n in enumerate(lengths):
        np.testing.assert_allclose(logits[1][row, :n], full[1][row, :n], rtol=1e-4, atol=1e-4)
    index = jnp.asarray(lengths)
    for _ in range(4):
        nxt = codes[np.arange(3), np.asarray(index)][:, None]
        logits, cache = _decode(model, params, nxt, cache, index)
        for row in range(3):
            np.testing.assert_allclose(logits[5][row, 0], full[5][row, int(index[row])], rtol=1e-4, atol=1e-4)
        index = index + 1


def test_dropout_only_in_training_mode(tiny_ape):
    config, model, params, codes, full = tiny_ape
    assert config.dropout > 0
    train = jax.jit(lambda p, key: model.apply(p, codes, deterministic=False, rngs={"dropout": key}))
    a, b = train(params, jax.random.key(1)), train(params, jax.random.key(2))
    assert np.abs(np.asarray(a[0] - b[0])).max() > 1e-3
    assert np.abs(np.asarray(a[0] - full[0])).max() > 1e-3


def test_bfloat16_compute_stays_close(tiny_ape):
    config, _, params, codes, full = tiny_ape
    bf16 = MusicTransformer(dataclasses.replace(config, dtype=jnp.bfloat16))
    out = jax.jit(bf16.apply)(params, codes)
    assert out[3].dtype == jnp.float32  # logits come back in float32
    assert np.abs(np.asarray(out[3] - full[3])).max() < 0.1


def test_config_round_trips_through_json_dict():
    config = MMTConfig(pos_emb="rotary", dtype=jnp.bfloat16)
    assert MMTConfig.from_dict(config.to_dict()) == config
    assert hash(config) == hash(MMTConfig.from_dict(config.to_dict()))
    assert MMTConfig().rotary_dims == 32
    with pytest.raises(ValueError, match="pos_emb"):
        MMTConfig(pos_emb="relative")


def test_attention_maps_are_causal_distributions(tiny_ape):
    config, model, params, codes, full = tiny_ape
    logits, state = model.apply(params, codes, mutable=["intermediates"])
    maps = [state["intermediates"][f"blocks_{j}"]["attn"]["attention"][0] for j in range(config.depth)]
    assert maps[0].shape == (3, config.heads, 11, 11)
    for attn in maps:
        np.testing.assert_allclose(np.asarray(attn).sum(-1), 1.0, rtol=1e-5)
        assert float(jnp.triu(attn, 1).max()) == 0.0  # nothing attends to the future
    np.testing.assert_allclose(logits[0], full[0], atol=1e-5)

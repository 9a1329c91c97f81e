"""bfloat16 decoding: weights (and cache, or a float32 cache) in bfloat16, float32 softmax and
sums; logits within a stated tolerance of the float32 full pass (the oracle), and the sampler
follows float32."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from mmt_tiny import random_params

from mmt_jax.model import MMTConfig, MusicTransformer, init_cache
from mmt_jax.sample import SamplerConfig, cast_params, default_cache_dtype, default_dtype

MODEL = MMTConfig.tiny(max_seq_len=32)
# bfloat16 keeps 8 significant bits (relative rounding 2^-9 per weight); the tiny model's
# logits moved by at most 0.0042 over 24 positions here (0.0095 with Flax's init): the bound
# is 3x the larger.
LOGIT_TOL = 0.03


@pytest.fixture(scope="module")
def params():
    return random_params(MODEL)


@pytest.mark.parametrize("cache_dtype", ["bfloat16", "float32"])
def test_bfloat16_decoding_stays_within_tolerance_of_float32(params, cache_dtype):
    cfg = SamplerConfig(MODEL, dtype="bfloat16", cache_dtype=cache_dtype, prefix_block=8)
    dmodel = MusicTransformer(cfg.decode_model)
    half = cast_params(params, jnp.bfloat16)
    assert {x.dtype for x in jax.tree.leaves(half)} == {jnp.dtype(jnp.bfloat16)}
    rng = np.random.default_rng(0)
    codes = np.stack([rng.integers(0, n, (2, 24)) for n in MODEL.vocab_sizes], -1).astype(np.int32)
    full = jax.jit(MusicTransformer(MODEL).apply)({"params": params}, codes)  # float32, no cache

    decode = jax.jit(
        lambda c, cache, i: dmodel.apply({"params": half}, c, cache, i, None, 8, method=dmodel.decode)
    )
    cache = init_cache(cfg.decode_model, 2, dtype=cfg.cache_dtype, block=8)
    assert {x.dtype for x in jax.tree.leaves(cache)} == {jnp.dtype(cache_dtype)}
    logits, cache = decode(codes[:, :6], cache, 0)
    worst = max(float(np.abs(logits[f] - full[f][:, :6]).max()) for f in range(6))
    for t in range(6, 24):
        logits, cache = decode(codes[:, t : t + 1], cache, jnp.int32(t))
        assert all(x.dtype == jnp.float32 for x in logits)
        worst = max(worst, *(float(np.abs(logits[f][:, 0] - full[f][:, t]).max()) for f in range(6)))
    print(f"largest logit difference, bfloat16 vs float32: {worst:.4f}")
    assert 0 < worst < LOGIT_TOL  # not bit-equal (it is bfloat16), but close


def test_bfloat16_sampler_decodes_in_bfloat16(params):
    """The compiled loop casts the weights and keeps a bfloat16 cache (traced, not compiled:
    its numerics are the decode path above; its samples are judged by the Table 3 metrics in
    docs/benchmarks.md, as any change of the logits parts drawn samples after a few events)."""
    from mmt_jax.sample import _sample_loop, _temperatures, row_keys_for

    prompt, lengths = jnp.zeros((2, 8, 6), jnp.int32), jnp.ones((2,), jnp.int32)
    args = (params, None, prompt, lengths, jnp.int32(8), _temperatures(1.0), row_keys_for(0, [0, 1]))
    for dtype, cache_dtype in (("float32", ""), ("bfloat16", ""), ("bfloat16", "float32")):
        cfg = SamplerConfig(MODEL, max_events=8, dtype=dtype, cache_dtype=cache_dtype)
        _, cache = jax.eval_shape(lambda *a, c=cfg: _sample_loop(c, *a), *args)
        assert {leaf.dtype for leaf in jax.tree.leaves(cache)} == {jnp.dtype(cache_dtype or dtype)}


def test_dtype_option_is_checked():
    assert SamplerConfig(MODEL, dtype=jnp.bfloat16).dtype == "bfloat16"
    assert SamplerConfig(MODEL).decode_model is MODEL  # float32: the model's own settings
    with pytest.raises(ValueError, match="dtype"):
        SamplerConfig(MODEL, dtype="float16")
    with pytest.raises(ValueError, match="prefix_block"):
        SamplerConfig(MODEL, prefix_block=-1)
    assert default_dtype("cpu") == default_dtype("gpu") == "bfloat16"
    assert default_cache_dtype("cpu") == "float32" and default_cache_dtype("gpu") == "bfloat16"
    assert SamplerConfig(MODEL, dtype="bfloat16").cache_dtype == "bfloat16"  # "": the weights'
    with pytest.raises(ValueError, match="cache_dtype"):
        SamplerConfig(MODEL, cache_dtype="int8")


def test_fast_train_step_paths_give_todays_loss(params):
    """dot_product and chunked attention (float32: equal to ~1e-6), bfloat16 compute on float32 weights
    (within 1 %), rematerialisation (same loss and gradients); right-padded rows, padding
    masked as by default."""
    import dataclasses

    from mmt_jax.loss import make_loss_fn

    rng = np.random.default_rng(2)
    codes = np.stack([rng.integers(1, n, (2, 20)) for n in MODEL.vocab_sizes], -1).astype(np.int32)
    mask = np.arange(20)[None] < np.array([[20], [13]])
    batch = {"codes": jnp.asarray(np.where(mask[..., None], codes, 0)), "mask": jnp.asarray(mask)}
    quiet = dataclasses.replace(MODEL, dropout=0.0)

    def loss_and_grads(grads=True, **changes):
        loss_fn = make_loss_fn(MusicTransformer(dataclasses.replace(quiet, **changes)))
        fn = lambda p: loss_fn(p, batch, jax.random.key(0))[0]  # noqa: E731
        return jax.jit(jax.value_and_grad(fn) if grads else fn)(params)

    today, g_today = loss_and_grads()
    for attention in ("dot_product", "chunked"):
        fast, g_fast = loss_and_grads(attention=attention, remat="dots")
        half = loss_and_grads(False, attention=attention, dtype="bfloat16")
        assert abs(float(fast) - float(today)) < 1e-5, attention
        assert abs(float(half) - float(today)) < 1e-2 * float(today), attention
        for a, b in zip(jax.tree.leaves(g_today), jax.tree.leaves(g_fast)):
            np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-5)

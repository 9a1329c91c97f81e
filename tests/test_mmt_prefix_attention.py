"""Decoding attends over the filled prefix of the cache only: same logits and samples as the
whole-cache path and the no-cache oracle, unfilled blocks never read, no wasted last refill;
the blocked cache layout (a tuple of blocks per layer) computes the same as one array."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from mmt_tiny import random_params

from mmt_jax.codec import SOS
from mmt_jax.model import MMTConfig, MusicTransformer, block_sizes, init_cache
from mmt_jax.prefix_attention import block_size, bucket_attention, prefix_attention
from mmt_jax.sample import SamplerConfig, baseline_sample, sample

MODEL = MMTConfig.tiny(max_seq_len=32)
TYPES = (0.0, 0.9, 0.9, 0.9, 0.9, 0.9)  # type drawn from all 5 codes
SOS_ROW = np.array([[SOS, 0, 0, 0, 0, 0]])


def _masked_softmax_attention(q, k, v, last, scale):
    scores = np.einsum("nqd,nkd->nqk", q, k) * scale
    scores = np.where(np.arange(k.shape[1])[None, None] <= last[..., None], scores, -np.inf)
    p = np.exp(scores - scores.max(-1, keepdims=True))
    return np.einsum("nqk,nkd->nqd", p / p.sum(-1, keepdims=True), v)


def _blocks(x, size):
    """[N, L, D] -> a tuple of [N, size, D] blocks (the blocked cache layout)."""
    return tuple(jnp.split(jnp.asarray(x), x.shape[1] // size, axis=1))


@pytest.mark.parametrize("attend", [bucket_attention, prefix_attention, "blocked"])
@pytest.mark.parametrize("block", [4, 32])
def test_prefixes_give_the_masked_softmax(attend, block):
    rng = np.random.default_rng(block)
    q, k, v = (rng.normal(size=s).astype(np.float32) for s in ((6, 3, 8), (6, 32, 8), (6, 32, 8)))
    last = np.array([[0, 0, 0], [5, 6, 7], [8, 9, 10], [31, 31, 31], [3, 12, 20], [15, 16, 17]])
    layout = (lambda x: x) if attend != "blocked" else (lambda x: _blocks(x, block))
    run = jax.jit(bucket_attention if attend == "blocked" else attend, static_argnums=(4, 5))
    for rows in (slice(0, 3), slice(0, 6)):  # longest last key 10 (bucket 16 of 32), then 31
        out = run(q[rows], layout(k[rows]), layout(v[rows]), jnp.asarray(last[rows]), block, 0.3)
        expected = _masked_softmax_attention(q[rows], k[rows], v[rows], last[rows], 0.3)
        np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)
    assert block_size(32, block) == block and block_size(32, 12) == 32 and block_size(32, 0) == 32


@pytest.mark.parametrize("attend, read", [(bucket_attention, 16), (prefix_attention, 12)])
def test_slots_past_the_filled_prefix_are_never_read(attend, read):
    """Slots past what a call may read hold NaN: keys 0..11 are allowed, so blocks of 4 read
    slots 0..11 and buckets (4, 8, 16, 32) slots 0..15. The whole-cache product reads them
    (0 x NaN), so the test can tell the paths apart."""
    rng = np.random.default_rng(0)
    q, k, v = (rng.normal(size=s).astype(np.float32) for s in ((4, 1, 8), (4, 32, 8), (4, 32, 8)))
    last = np.array([[2], [5], [9], [11]])
    k[:, read:], v[:, read:] = np.nan, np.nan
    out = np.asarray(attend(q, k, v, jnp.asarray(last), 4, 0.3))
    expected = _masked_softmax_attention(q, k[:, :12], v[:, :12], last, 0.3)
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)
    whole = np.asarray(attend(q, k, v, jnp.asarray(last), 0, 0.3))
    assert np.isnan(whole).all()
    if attend is bucket_attention:  # blocks of 4: the first four blocks only are read
        out = np.asarray(attend(q, _blocks(k, 4), _blocks(v, 4), jnp.asarray(last), 4, 0.3))
        np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)


def test_block_sizes_double_so_every_bucket_is_whole_blocks():
    assert block_sizes(1024, 128) == (128, 128, 256, 512)  # buckets 128, 256, 512, 1024
    assert block_sizes(32, 8) == (8, 8, 16)
    assert block_sizes(96, 32) == (32, 32, 32)  # not a power of two: equal blocks
    assert block_sizes(32, 0) == (32,) and block_sizes(32, 32) == (32,) and block_sizes(30, 8) == (30,)
    sizes = init_cache(MODEL, 1, block=8)[0]["v"]
    assert [b.shape[2] for b in sizes] == [8, 8, 16]


@pytest.fixture(scope="module")
def params():
    return random_params(MODEL)


@pytest.mark.parametrize("blocked", [False, True])
def test_prefill_and_steps_over_prefixes_match_the_full_pass(params, blocked):
    """Per-row prompt lengths 3 and 9, one prefill, then steps: every row's logits equal the
    no-cache full pass (the oracle) at every position, with blocks of 8 slots; in the blocked
    layout the two rows write into different blocks at the same step."""
    model = MusicTransformer(MODEL)
    rng = np.random.default_rng(1)
    codes = np.stack([rng.integers(0, n, (2, 20)) for n in MODEL.vocab_sizes], -1).astype(np.int32)
    full = jax.jit(model.apply)({"params": params}, codes)
    decode = jax.jit(
        lambda c, cache, i, n: model.apply({"params": params}, c, cache, i, n, 8, method=model.decode)
    )
    lengths = np.array([3, 9])
    prompt = codes[:, :9].copy()
    prompt[0, 3:] = 0
    logits, cache = decode(prompt, init_cache(MODEL, 2, block=8 if blocked else 0), 0, jnp.asarray(lengths))
    assert isinstance(cache[0]["k"], tuple) == blocked and len(jax.tree.leaves(cache)) == MODEL.depth * 2 * (
        3 if blocked else 1
    )
    for row, n in enumerate(lengths):
        np.testing.assert_allclose(logits[3][row, :n], full[3][row, :n], rtol=1e-4, atol=1e-4)
    index = lengths.copy()
    for _ in range(9):
        step = codes[np.arange(2), index][:, None]
        logits, cache = decode(step, cache, jnp.asarray(index), None)
        for f in range(6):
            np.testing.assert_allclose(logits[f][:, 0], full[f][np.arange(2), index], rtol=1e-4, atol=1e-4)
        index = index + 1
    if blocked:  # every written row sits in its block, the rest of the cache is untouched
        whole = np.concatenate(cache[-1]["k"], axis=2)  # [B, H, 32, D]
        for row, filled in enumerate(index):  # 12 and 18 slots
            assert (np.abs(whole[row, :, :filled]).max(axis=(0, 2)) > 0).all() and not whole[
                row, :, filled:
            ].any()


def test_sampler_over_prefixes_equals_the_oracle_up_to_a_full_window(params):
    """A generation that fills the window exactly (a long call: the whole window, one array):
    32 events from a 1-event prompt, the last sampled with the full window as context (as the
    oracle does) rather than after a refill of half the window."""
    cfg = SamplerConfig(MODEL, max_events=32, thresholds=TYPES, prefix_block=8)
    cached = sample(params, cfg, [SOS_ROW] * 2, 32, seed=4)
    oracle = baseline_sample(params, cfg, [SOS_ROW] * 2, 32, seed=4, bucket=32)
    assert cached.steps == oracle.steps == 32
    assert max(len(s) for s in cached.sequences()) == 33  # the cache was full for the last
    for a, b in zip(cached.sequences(), oracle.sequences()):
        np.testing.assert_array_equal(a, b)  # before the fix the last events differed


def test_refills_in_the_blocked_layout_equal_the_single_array_layout(params):
    """A generation 2.5 windows long (refills of 16 = two blocks of 8, merged in place) gives
    the same events with the blocked cache as with one array per layer (prefix_block 0)."""
    prompts = [SOS_ROW, np.array([[SOS, 0, 0, 0, 0, 0], [1, 0, 0, 0, 0, 3], [2, 0, 0, 0, 0, 0]])]
    blocked = SamplerConfig(MODEL, max_events=80, thresholds=TYPES, prefix_block=8, refill=16)
    plain = SamplerConfig(MODEL, max_events=80, thresholds=TYPES, prefix_block=0, refill=16)
    a = sample(params, blocked, prompts, 80, seed=2, return_cache=True, cache=init_cache(MODEL, 2, block=8))
    b = sample(params, plain, prompts, 80, seed=2)
    assert isinstance(a.cache[0]["k"], tuple) and a.steps > 2 * MODEL.max_seq_len
    for x, y in zip(a.sequences(), b.sequences()):
        np.testing.assert_array_equal(x, y)


def test_a_short_call_gets_a_short_blocked_cache_and_the_oracle_samples(params):
    """8 events after an 8-wide prompt need 15 slots, half the window or less: the cache is 16
    slots in blocks of 4, 4 and 8, and the samples are the no-cache oracle's; a cache shorter
    than a call needs is refused."""
    cfg = SamplerConfig(MODEL, max_events=8, thresholds=TYPES, prefix_block=4)
    assert cfg.cache_layout(8) == (16, 4, 4) and cfg.cache_layout(24) == (32, 0, 0)
    out = sample(params, cfg, [SOS_ROW] * 2, 8, seed=5, return_cache=True)
    assert [b.shape[2] for b in out.cache[0]["k"]] == [4, 4, 8]
    oracle = baseline_sample(params, cfg, [SOS_ROW] * 2, 8, seed=5, bucket=8)
    for a, b in zip(out.sequences(), oracle.sequences()):
        np.testing.assert_array_equal(a, b)
    longer = SamplerConfig(MODEL, max_events=16, thresholds=TYPES, prefix_block=4)
    with pytest.raises(ValueError, match="holds 16 slots, this call needs 32"):
        sample(params, longer, [SOS_ROW] * 2, 16, cache=out.cache)

"""The compiled MMT sampler: parity with the no-cache baseline, constraints, stopping, compiles."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import linen as nn

from mmt_jax.codec import EOS, INSTRUMENT, NOTE, SON, SOS
from mmt_jax.model import MMTConfig, MusicTransformer
from mmt_jax.sample import SamplerConfig, _sample_loop, baseline_sample, row_keys_for, sample

MODEL = MMTConfig.tiny(max_seq_len=32)
PROMPTS = [
    np.array(
        [
            [SOS, 0, 0, 0, 0, 0],
            [INSTRUMENT, 0, 0, 0, 0, 1],
            [INSTRUMENT, 0, 0, 0, 0, 25],
            [SON, 0, 0, 0, 0, 0],
            [NOTE, 3, 5, 61, 8, 25],
        ]
    ),
    np.array([[SOS, 0, 0, 0, 0, 0]]),
    np.array([[SOS, 0, 0, 0, 0, 0], [INSTRUMENT, 0, 0, 0, 0, 27], [SON, 0, 0, 0, 0, 0]]),
]
SAMPLE_TYPES = (0.0, 0.9, 0.9, 0.9, 0.9, 0.9)  # type drawn from all 5 codes, not argmax


def _params(type_bias):
    params = MusicTransformer(MODEL).init(jax.random.key(0), jnp.zeros((1, 8, 6), jnp.int32))
    params = nn.meta.unbox(params)["params"]
    params["heads_0"]["bias"] = params["heads_0"]["bias"] + jnp.asarray(type_bias, jnp.float32)
    return params


@pytest.fixture(scope="module")
def notes_params():
    """Mostly notes, some instrument rows, rarely EOS."""
    return _params([0.0, 1.0, 0.0, 3.0, -4.0])


def _check_valid(cfg, seqs, prompt_lens, strict=False):
    vocab = cfg.model.vocab_sizes
    for seq, n in zip(seqs, prompt_lens):
        types = seq[:, 0]
        assert np.all(np.diff(types) >= 0), "type decreased"
        gen = seq[n:]
        assert not np.any(gen[:, 0] == SOS), "SOS sampled"
        for f in range(6):
            assert np.all((gen[:, f] >= 0) & (gen[:, f] < vocab[f]))
        notes = seq[types == NOTE]
        assert np.all(np.diff(notes[:, 1]) >= 0), "beat decreased"
        assert np.all(gen[gen[:, 0] == NOTE][:, 1:] > 0), "code 0 in a note field"
        inst = gen[gen[:, 0] == INSTRUMENT]
        assert np.all(inst[:, 1:5] == 0) and np.all(inst[:, 5] > 0)
        other = gen[np.isin(gen[:, 0], (SON, EOS))]
        assert np.all(other[:, 1:] == 0)
        if strict:
            declared = seq[types == INSTRUMENT][:, 5]
            assert len(set(declared.tolist())) == len(declared), "repeated instrument row"
            if len(declared):
                assert set(notes[:, 5].tolist()) <= set(declared.tolist())
            same_beat = notes[1:, 1] == notes[:-1, 1]
            assert np.all(notes[1:, 2][same_beat] >= notes[:-1, 2][same_beat])


def test_top_k_sizes_match_the_reference():
    # reference §4.3: ceil((1 - 0.9) * vocab) in floating point -> type is argmax
    assert SamplerConfig(MMTConfig()).top_ks == (1, 26, 2, 13, 4, 7)


def test_cached_sampler_equals_no_cache_baseline(notes_params):
    cfg = SamplerConfig(MODEL, max_events=24, thresholds=SAMPLE_TYPES)
    cached = sample(notes_params, cfg, PROMPTS, 24, seed=3).sequences()
    reference = baseline_sample(notes_params, cfg, PROMPTS, 24, seed=3, bucket=32).sequences()
    assert sum(len(s) for s in cached) > 30
    for a, b in zip(cached, reference):
        np.testing.assert_array_equal(a, b)


def test_rows_do_not_depend_on_batch_neighbours(notes_params):
    cfg = SamplerConfig(MODEL, max_events=24, thresholds=SAMPLE_TYPES)
    keys = row_keys_for(11, [0, 1, 2])
    together = sample(notes_params, cfg, PROMPTS, 20, row_keys=keys).sequences()
    for i, prompt in enumerate(PROMPTS):
        alone = sample(notes_params, cfg, [prompt], 20, row_keys=keys[i : i + 1]).sequences()[0]
        np.testing.assert_array_equal(together[i], alone)


@pytest.mark.parametrize("strict", [False, True])
def test_constraints_hold(notes_params, strict):
    cfg = SamplerConfig(MODEL, max_events=24, thresholds=SAMPLE_TYPES, strict=strict)
    out = sample(notes_params, cfg, PROMPTS, 24, temperature=2.0, seed=5)
    seqs = out.sequences()
    assert sum(int((s[:, 0] == NOTE).sum()) for s in seqs) > 25
    _check_valid(cfg, seqs, out.prompt_len, strict=strict)
    if strict:  # the unrestricted sampler does break these, so the strict masks matter
        loose = sample(
            notes_params,
            SamplerConfig(MODEL, max_events=24, thresholds=SAMPLE_TYPES),
            PROMPTS,
            24,
            temperature=2.0,
            seed=5,
        ).sequences()
        with pytest.raises(AssertionError):
            _check_valid(cfg, loose, out.prompt_len, strict=True)


def test_end_of_song_stops_rows_independently():
    params = _params([0.0, 0.0, 0.0, 2.0, 0.5])
    cfg = SamplerConfig(MODEL, max_events=24, thresholds=SAMPLE_TYPES)
    out = sample(params, cfg, [PROMPTS[1]] * 3, 24, seed=0)
    ends = []
    for row, n in zip(out.codes, out.prompt_len):
        gen = row[n:]
        eos = np.flatnonzero(gen[:, 0] == EOS)
        assert len(eos), "every row should end"
        ends.append(eos[0])
        assert np.all(gen[eos[0] + 1 :] == 0), "events after EOS"
    assert len(set(ends)) > 1, "rows should end at different steps"
    assert out.steps == max(ends) + 1 < 24, "the loop should stop once every row ended"


def test_new_lengths_and_temperatures_do_not_recompile(notes_params):
    cfg = SamplerConfig(MODEL, max_events=24, thresholds=SAMPLE_TYPES)
    sample(notes_params, cfg, PROMPTS, 4, seed=0)
    compiled = _sample_loop._cache_size()
    a = sample(notes_params, cfg, PROMPTS, 7, temperature=0.5, seed=1)
    b = sample(notes_params, cfg, PROMPTS, 13, temperature=(1, 2, 0.7, 1, 1, 3), seed=1)
    assert _sample_loop._cache_size() == compiled
    assert (a.steps, b.steps) == (7, 13)  # the traced length took effect


def test_generation_beyond_the_window_stays_valid(notes_params):
    cfg = SamplerConfig(MODEL, max_events=80, thresholds=SAMPLE_TYPES, refill=12)
    out = sample(notes_params, cfg, PROMPTS, 80, seed=2)
    seqs = out.sequences()
    assert max(len(s) - n for s, n in zip(seqs, out.prompt_len)) > 2 * MODEL.max_seq_len
    _check_valid(cfg, seqs, out.prompt_len)
    # before the first refill it is the plain cached sampler (= the baseline)
    short = sample(
        notes_params, SamplerConfig(MODEL, max_events=24, thresholds=SAMPLE_TYPES), PROMPTS, 24, seed=2
    )
    for s, t, n in zip(seqs, short.sequences(), out.prompt_len):
        head = min(len(t), MODEL.max_seq_len - n)
        np.testing.assert_array_equal(s[:head], t[:head])


def test_sos_mask_covers_every_row_unless_the_quirk_is_on():
    params = _params([8.0, 0.0, 0.0, 0.0, 0.0])  # the model wants SOS everywhere
    prompts = [PROMPTS[1]] * 3
    fixed = sample(params, SamplerConfig(MODEL, max_events=24, thresholds=SAMPLE_TYPES), prompts, 6, seed=0)
    assert not any(np.any(seq[1:, 0] == SOS) for seq in fixed.sequences())
    quirk = SamplerConfig(MODEL, max_events=24, thresholds=SAMPLE_TYPES, sos_row0_only=True)
    seqs = sample(params, quirk, prompts, 6, seed=0).sequences()
    assert not np.any(seqs[0][1:, 0] == SOS)
    assert all(np.all(seq[1:, 0] == SOS) for seq in seqs[1:])


def test_top_p_keeps_the_nucleus_and_top_k_the_k_best():
    from mmt_jax.sample import _draw

    probs = np.array([0.05, 0.5, 0.15, 0.3], np.float32)
    logits = jnp.log(jnp.broadcast_to(probs, (400, 4)))
    keys = jax.random.split(jax.random.key(0), 400)
    model = MMTConfig.tiny(vocab_sizes=(4, 257, 13, 129, 33, 65))
    # reference top-p: drop codes once the cumulative probability passed 1 - 0.5
    nucleus = SamplerConfig(model, filter="top_p", thresholds=0.5)
    drawn = np.asarray(_draw(nucleus, 0, logits, 1.0, keys))
    assert set(drawn.tolist()) == {1, 3}
    # top-k with threshold 0.4: k = ceil(0.6 * 4) = 3 -> the rarest code never appears
    drawn = np.asarray(_draw(SamplerConfig(model, thresholds=0.4), 0, logits, 1.0, keys))
    assert set(drawn.tolist()) == {1, 2, 3}


def test_refills_rebase_beats_and_keep_the_header(notes_params):
    cfg = SamplerConfig(
        MODEL, max_events=80, thresholds=SAMPLE_TYPES, refill=12, rebase_beats=True, keep_header=True
    )
    out = sample(notes_params, cfg, PROMPTS, 80, seed=2)
    free = sample(
        notes_params, dataclasses.replace(cfg, rebase_beats=False, keep_header=False), PROMPTS, 80, seed=2
    )
    for s, t, n in zip(out.sequences(), free.sequences(), out.prompt_len):
        notes = s[s[:, 0] == NOTE]
        assert np.all(np.diff(notes[:, 1]) >= 0) and notes[:, 1].min() >= 1  # beats never fall
        head = MODEL.max_seq_len - n  # the same until the first refill
        np.testing.assert_array_equal(s[:head], t[:head])

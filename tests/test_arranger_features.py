"""Arranger per-note features (reference §3, §5) on hand-made pieces."""

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from arranger_jax import data
from arranger_jax import features as F

K = 4


def _piece(labels, pitch=None, time=None):
    n = len(labels)
    time = np.arange(n) * 12 if time is None else np.asarray(time)
    pitch = np.arange(60, 60 + n) if pitch is None else np.asarray(pitch)
    return data.Piece("hand", time, pitch, np.full(n, 24), np.full(n, 64), labels)


def test_sinusoid_table_is_interleaved_sin_cos():
    table = F.sinusoid_table(4097, 16)
    assert table.shape == (4097, 16)
    assert np.allclose(table[0], [0, 1] * 8)
    pos, i = 37, 5  # odd column -> cos, exponent uses 2 * (5 // 2) = 4
    assert np.isclose(table[pos, i], np.cos(pos / 10000 ** (4 / 16)), atol=1e-6)
    assert np.isclose(table[pos, 4], np.sin(pos / 10000 ** (4 / 16)), atol=1e-6)


def test_frequency_table():
    freq = F.frequency_table()
    assert freq.shape == (129, 1) and freq[0, 0] == 0 and np.isclose(freq[128, 0], 1.0)
    assert np.isclose(freq[70, 0], 440 / 12543.853951, rtol=1e-6)  # q = 70 is A4 (MIDI 69)


def test_note_inputs():
    inputs = F.note_inputs([0, 23, 24, 24 * 5000 + 7], [60, 0, 127, 64], [6, 1, 200, 3])
    assert inputs["pitch"].tolist() == [61, 1, 128, 65]
    assert inputs["beat"].tolist() == [0, 0, 1, 4096]
    assert inputs["position"].tolist() == [0, 23, 0, 7]
    assert inputs["time"].tolist() == [0, 23, 24, 120007]  # raw; the model clips its lookups


def test_entry_hints_by_hand():
    label = [1, 1, 0, 2, 0, 1]  # part 3 never plays
    first = F.first_indices(label, K)
    assert first.tolist() == [2, 0, 3, -1]
    hints = F.entry_hints(first, 6)
    expected = np.array(
        [[-1, 0, -1, 0], [-1, 1, -1, 0], [0, 1, -1, 0], [1, 1, 0, 0], [1, 1, 1, 0], [1, 1, 1, 0]]
    )
    assert np.array_equal(hints, expected)


def test_reference_entry_hints_shift_channels():
    first = F.first_indices([1, 1, 0, 2, 0, 1], K)
    test_time = F.entry_hints(first, 6, reference=True)
    # channel i carries part i-1; channel 0 and the absent part's channel are empty at test time
    expected = np.array(
        [[0, -1, 0, -1], [0, -1, 1, -1], [0, 0, 1, -1], [0, 1, 1, 0], [0, 1, 1, 1], [0, 1, 1, 1]]
    )
    assert np.array_equal(test_time, expected)
    train = F.entry_hints(first, 6, start=3, reference=True, training=True)
    # in training channel 0 acts as entering at index 0, and the window start is ignored
    assert train[:, 0].tolist() == [0, 1, 1, 1, 1, 1]
    assert np.array_equal(train[:, 1:], expected[:, 1:])


@given(st.lists(st.integers(0, K - 1), min_size=1, max_size=40), st.data())
def test_window_hints_equal_the_piece_hints(labels, draw):
    n = len(labels)
    first = F.first_indices(labels, K)
    whole = F.entry_hints(first, n)
    start = draw.draw(st.integers(0, n - 1))
    length = draw.draw(st.integers(1, n - start))
    assert np.array_equal(F.entry_hints(first, length, start), whole[start : start + length])


def test_pitch_hints():
    hints = F.pitch_hints([60, 62, 40, 41], [0, 0, 2, 2], K)
    assert hints.tolist() == [62, 0, 42, 0]  # round(mean(pitch + 1)); numpy rounds 41.5 -> 42


@given(st.lists(st.integers(0, 127), min_size=1, max_size=20), st.integers(-5, 6))
def test_transpose_stays_in_range(pitches, shift):
    out = F.transpose(pitches, shift)
    assert out.min() >= 0 and out.max() <= 127
    assert np.all((out - np.asarray(pitches) - shift) % 12 == 0)


def test_reference_clip_can_reach_padding():
    assert F.transpose([0, 127], -1, reference_clip=True).tolist() == [-1, 126]


def test_training_window():
    n = 30
    labels = np.arange(n) % 3
    piece = _piece(labels, time=np.arange(n) * 24)
    rng = np.random.default_rng(0)
    starts = set()
    for _ in range(40):
        inputs, target = F.training_window(piece, K, rng, length=10)
        start = int(inputs["time"][0]) // 24  # absolute times reveal the start note
        starts.add(start)
        assert np.array_equal(inputs["time"], piece.time[start : start + 10])
        assert np.array_equal(target, labels[start : start + 10] + 1)
        shift = inputs["pitch"] - 1 - piece.pitch[start : start + 10]
        assert len(set(shift.tolist())) == 1 and -5 <= shift[0] <= 6
        assert np.array_equal(
            inputs["entry_hint"], F.entry_hints(F.first_indices(labels, K), n)[start : start + 10]
        )
    assert len(starts) > 5 and max(starts) <= 20
    short = _piece(labels[:6])
    inputs, target = F.training_window(short, K, rng, length=10, transpose_range=None)
    assert inputs["pitch"].tolist()[6:] == [0] * 4 and target.tolist()[6:] == [0] * 4
    assert inputs["entry_hint"].shape == (10, K) and not inputs["entry_hint"][6:].any()
    assert np.array_equal(inputs["pitch"][:6], short.pitch + 1)


def test_piece_inputs_cap():
    piece = _piece(np.arange(30) % 4)
    inputs, target = F.piece_inputs(piece, K, max_len=25)
    assert len(target) == 25 and inputs["entry_hint"].shape == (25, K)
    inputs, target = F.piece_inputs(piece, K, max_len=None)
    assert len(target) == 30

"""The MMT training data: augmentation, trimming, the length cap, padding, the grain pipeline."""

import numpy as np
import pytest

from mmt_jax import codec, data
from music_codecs.errors import UserError


class ScriptedRng:
    """Stands in for np.random.Generator.integers, returning planned values in order."""

    def __init__(self, values):
        self.values = list(values)
        self.calls = []

    def integers(self, low, high=None):
        lo, hi = (0, low) if high is None else (low, high)
        value = self.values.pop(0)
        assert lo <= value < hi, (value, lo, hi)
        self.calls.append((lo, hi))
        return value


def piece(beats, pitch=60, program=0):
    beats = np.asarray(beats)
    n = len(beats)
    return np.stack(
        [beats, np.zeros(n, int), np.full(n, pitch), np.full(n, 12), np.full(n, program)], axis=1
    ).astype(np.int64)


def test_pitch_shift_range_and_clipping():
    notes = piece(np.arange(100))
    notes[:, 2] = np.linspace(0, 127, 100).astype(int)
    seen = set()
    for seed in range(200):
        out = data.augment(notes, np.random.default_rng(seed))
        middle = (notes[:, 2] >= 5) & (notes[:, 2] <= 121)
        shifts = set((out[middle, 2] - notes[middle, 2]).tolist())
        assert len(shifts) == 1
        seen |= shifts
        assert out[:, 2].min() >= 0 and out[:, 2].max() <= 127
    assert seen == set(range(-5, 7))
    s = data.augment(piece([0, 1], pitch=126), ScriptedRng([6]))
    assert s[:, 2].tolist() == [127, 127]  # clipped, not wrapped
    s = data.augment(piece([0, 1], pitch=2), ScriptedRng([-5 + 0]))
    assert s[:, 2].tolist() == [0, 0]


def test_short_pieces_are_not_windowed():
    rng = ScriptedRng([0])  # only the pitch shift is drawn
    out = data.augment(piece(np.arange(256)), rng)
    assert out[:, 0].tolist() == list(range(256)) and len(rng.calls) == 1


def test_window_takes_the_first_with_more_than_10_notes():
    notes = piece(list(range(0, 11)) + list(range(300, 320)) + [599])  # n_beats = 600
    rng = ScriptedRng([0, 0, 290])  # shift 0; window [0,256) has 11 notes -> accepted at once
    out = data.augment(notes, rng)
    assert out[:, 0].tolist() == list(range(11)) and rng.calls[1] == (0, 600 - 256)
    rng = ScriptedRng([0, 1, 200])  # [1,257) has 10 notes -> refused; [200,456) has 20
    out = data.augment(notes, rng)
    assert out[:, 0].tolist() == [b - 200 for b in range(300, 320)]
    assert len(rng.calls) == 3


def test_window_falls_back_to_the_tenth_draw():
    notes = piece([0, 500, 900])  # no window ever holds more than 10 notes
    rng = ScriptedRng([0] + [10] * 9 + [450, 7])
    out = data.augment(notes, rng)
    assert out[:, 0].tolist() == [50] and rng.values == [7]  # 10 draws, the last one used


def test_window_property_on_random_pieces():
    rng = np.random.default_rng(0)
    for _ in range(20):
        notes = np.unique(
            np.stack(
                [
                    rng.integers(0, 1000, 300),
                    rng.integers(0, 12, 300),
                    rng.integers(20, 100, 300),
                    rng.integers(1, 50, 300),
                    np.zeros(300, int),
                ],
                1,
            ),
            axis=0,
        )
        out = data.augment(notes, np.random.default_rng(int(rng.integers(1e9))))
        assert out[:, 0].min() >= 0 and out[:, 0].max() < 256 and len(out) > 10


def test_validation_trims_to_256_beats_without_augmentation():
    notes = piece([0, 100, 255, 256, 700], pitch=70)
    codes = data.example_codes(notes, rng=None)
    decoded = codec.decode_notes(codes)
    assert decoded[:, 0].tolist() == [0, 100, 255] and set(decoded[:, 2]) == {70}


def test_length_cap_keeps_eos_last():
    notes = piece(np.repeat(np.arange(200), 6))
    notes[:, 2] = np.tile(np.arange(60, 66), 200)
    codes = data.example_codes(notes, rng=None, max_seq_len=1024)
    assert len(codes) == 1024 and codes[-1, 0] == codec.EOS
    assert (codes[:-1, 0] != codec.EOS).all()
    full = codec.encode_notes(notes)
    assert np.array_equal(codes[:1023], full[:1023])
    assert np.array_equal(data.cap_length(full[:10]), full[:10])


def test_collate_pads_with_zero_rows_and_masks():
    seqs = [np.ones((5, 6), int), np.full((70, 6), 2)]
    batch = data.collate(seqs, pad_to=None, pad_multiple=64)
    assert batch["codes"].shape == (2, 128, 6) and batch["codes"].dtype == np.int32
    assert batch["seq_len"].tolist() == [5, 70]
    assert batch["mask"].sum(1).tolist() == [5, 70] and batch["mask"][0, :5].all()
    assert (batch["codes"][0, 5:] == 0).all() and (batch["codes"][1, :70] == 2).all()
    fixed = data.collate(seqs, pad_to=100)
    assert fixed["codes"].shape == (2, 100, 6)
    assert data.collate(seqs, pad_to=None, pad_multiple=64, max_len=100)["codes"].shape[1] == 100
    with pytest.raises(ValueError):
        data.collate(seqs, pad_to=50)


@pytest.fixture
def folder(tmp_path):
    rng = np.random.default_rng(1)
    names = []
    for i in range(7):
        n_beats = 100 if i % 2 else 600
        notes = np.unique(
            np.stack(
                [
                    rng.integers(0, n_beats, 80),
                    rng.integers(0, 12, 80),
                    rng.integers(30, 90, 80),
                    rng.integers(1, 40, 80),
                    rng.choice([0, 40, 42], 80),
                ],
                1,
            ),
            axis=0,
        )
        notes[:, 0] -= notes[0, 0]
        name = f"set/piece-{i}"
        (tmp_path / "set").mkdir(exist_ok=True)
        np.save(tmp_path / f"{name}.npy", notes)
        names.append(name)
    (tmp_path / "train-names.txt").write_text("\n".join(names) + "\n")
    return tmp_path, names


def _batches(ds, n):
    it = iter(ds.to_iter_dataset())
    return [next(it) for _ in range(n)]


def test_pipeline_batches_are_deterministic_and_resumable(folder):
    root, names = folder
    ds = data.make_dataset(root, root / "train-names.txt", 2, train=True, seed=3, max_seq_len=256)
    a, b = _batches(ds, 6), _batches(ds, 6)
    for x, y in zip(a, b):
        assert np.array_equal(x["codes"], y["codes"]) and np.array_equal(x["mask"], y["mask"])
    assert a[0]["codes"].shape == (2, 256, 6) and a[0]["mask"].dtype == bool
    other = _batches(data.make_dataset(root, names, 2, train=True, seed=4, max_seq_len=256), 6)
    assert any(not np.array_equal(x["codes"], y["codes"]) for x, y in zip(a, other))
    for batch in a:  # every row: SOS first, EOS at its last real row, zeros after
        for codes, n in zip(batch["codes"], batch["seq_len"]):
            assert codes[0, 0] == codec.SOS and codes[n - 1, 0] == codec.EOS
            assert (codes[n:] == 0).all() and codes[1 : n - 1, 1].max() <= 256
    it = iter(ds.to_iter_dataset())
    next(it), next(it)
    state = it.get_state()
    expected = next(it)
    resumed = iter(ds.to_iter_dataset())
    resumed.set_state(state)
    assert np.array_equal(next(resumed)["codes"], expected["codes"])


def test_validation_pipeline_keeps_order_and_partial_batch(folder):
    root, names = folder
    ds = data.make_dataset(root, names, 3, train=False, pad_to=None)
    batches = list(ds.to_iter_dataset())
    assert [len(b["seq_len"]) for b in batches] == [3, 3, 1]
    first = data.example_codes(np.load(root / f"{names[0]}.npy"), rng=None)
    assert np.array_equal(batches[0]["codes"][0, : len(first)], first)
    assert batches[0]["codes"].shape[1] % 64 == 0
    filled = list(data.make_dataset(root, names, 3, train=False, pad_to=None, fill_partial=True))
    assert [len(b["seq_len"]) for b in filled] == [3, 3, 3]
    assert filled[2]["mask"][1:].sum() == 0 and np.array_equal(filled[2]["codes"][:1], batches[2]["codes"])


@pytest.mark.parametrize("train, pad_to", [(True, "max_seq_len"), (True, None), (False, None)])
def test_processes_split_the_one_process_global_batch(folder, train, pad_to):
    """Process i of P gets rows [i*B/P, (i+1)*B/P) of the batch a 1-process run reads, padded
    alike, so the losses of a run do not depend on its number of hosts."""
    root, names = folder
    kwargs = dict(train=train, seed=5, max_seq_len=256, pad_to=pad_to, fill_partial=True)

    def batches(index, count):
        it = iter(
            data.make_dataset(
                root, names, 4, process_index=index, process_count=count, **kwargs
            ).to_iter_dataset()
        )
        return [next(it) for _ in range(3 if train else 2)]

    whole = batches(0, 1)
    parts = [batches(i, 2) for i in range(2)]
    for step, batch in enumerate(whole):
        for key in batch:
            np.testing.assert_array_equal(
                np.concatenate([parts[0][step][key], parts[1][step][key]]), batch[key]
            )
    if not train:  # 7 pieces: the last global batch is 3 pieces and one empty row
        assert whole[-1]["mask"].any(axis=1).tolist() == [True, True, True, False]
    with pytest.raises(UserError, match="does not split"):
        data.make_dataset(root, names, 3, train=train, process_index=0, process_count=2)

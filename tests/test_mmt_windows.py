"""Training windows that teach length (data.windows="events"): only a piece's true end carries
end-of-song."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from mmt_jax import codec, data


def _piece(n, seed, beat_step=1):
    rng = np.random.default_rng(seed)
    beats = np.sort(rng.integers(0, max(n * beat_step // 2, 1), n))
    beats -= beats[0]
    programs = rng.choice([0, 40, 42, 120], n)  # 120: a dropped program
    return np.stack(
        [beats, rng.integers(0, 12, n), rng.integers(30, 90, n), rng.integers(1, 30, n), programs], 1
    )


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(1, 300),
    seed=st.integers(0, 10_000),
    max_seq_len=st.sampled_from([16, 48, 128]),
    beat_step=st.sampled_from([1, 8]),
    train=st.booleans(),
)
def test_windows_end_only_at_the_true_end(n, seed, max_seq_len, beat_step, train):
    notes = _piece(n, seed, beat_step)
    notes = notes[np.lexsort(notes.T[::-1])]
    rng = np.random.default_rng(seed) if train else None
    codes = data.event_window(notes, rng, max_beat=64, max_seq_len=max_seq_len)
    assert len(codes) <= max_seq_len
    assert codes[0, 0] == codec.SOS
    types = codes[:, 0]
    body = codes[types == codec.NOTE]
    assert (types == codec.EOS).sum() <= 1 and (types[-1] == codec.EOS) == (codec.EOS in types)
    known = notes[codec.PROGRAM_TO_INSTRUMENT[notes[:, 4]] > 0]
    if len(body):
        assert body[:, 1].min() >= 1 and body[:, 1].max() <= 64  # beats below max_beat
    # the window is a run of the piece's (known) notes; pitches may be shifted when training
    kept = codec.decode_notes(codes)
    starts = [i for i in range(len(known)) if known[i, 3] >= 0]
    assert len(kept) <= len(known)
    if len(kept):
        matches = [
            s
            for s in starts
            if s + len(kept) <= len(known)
            and np.array_equal(known[s : s + len(kept), 1], kept[:, 1])
            and len(set((known[s : s + len(kept), 0] - kept[:, 0]).tolist())) == 1
        ]
        assert matches, "the window is not a contiguous run of the piece"
        holds_end = any(s + len(kept) == len(known) for s in matches)
        ends_in_eos = types[-1] == codec.EOS
        if ends_in_eos:
            assert holds_end  # never a false end-of-song
        if (
            not train
            and len(known) + len(np.unique(codec.PROGRAM_TO_INSTRUMENT[known[:, 4]])) + 3 <= max_seq_len
        ):
            if known[-1, 0] < 64:
                assert ends_in_eos  # a piece that fits keeps its true end


def test_a_true_end_is_seen_and_a_cut_is_not():
    notes = np.stack([np.arange(100), np.zeros(100), np.full(100, 60), np.full(100, 6), np.zeros(100)], 1)
    cut = data.event_window(notes, None, max_beat=256, max_seq_len=32)
    assert len(cut) == 31 and codec.EOS not in cut[:, 0]  # SOS, 1 instrument, SON, 28 notes
    whole = data.event_window(notes[:20], None, max_beat=256, max_seq_len=32)
    assert whole[-1, 0] == codec.EOS and (whole[:, 0] == codec.NOTE).sum() == 20
    ends = [
        data.event_window(notes, np.random.default_rng(s), max_beat=256, max_seq_len=32)[-1, 0] == codec.EOS
        for s in range(300)
    ]
    assert 0 < sum(ends) < 300  # random starts sometimes reach the end
    reference = data.example_codes(notes, None, max_beat=256, max_seq_len=32, windows="reference")
    assert reference[-1, 0] == codec.EOS  # the reference's cut always ends in end-of-song


def test_pipeline_uses_event_windows(tmp_path):
    root = tmp_path / "notes"
    root.mkdir()
    notes = np.stack([np.arange(200), np.zeros(200), np.full(200, 60), np.full(200, 6), np.zeros(200)], 1)
    np.save(root / "a.npy", notes.astype(np.int64))
    ds = data.make_dataset(root, ["a"], 1, train=False, max_seq_len=64, windows="events")
    batch = next(iter(ds))
    assert batch["seq_len"][0] == 63 and codec.EOS not in batch["codes"][0, :, 0]

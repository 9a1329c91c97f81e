"""decode -> write_midi -> read_midi: never a file our reader rejects, never an exception but the
library's own (the codec's ValueError for impossible codes, MusicFileError for a table no MIDI
file can hold), and never a half-written file."""

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from mmt_jax import codec
from music_codecs.errors import MusicFileError
from music_codecs.midi_read import MAX_QUARTERS, read_midi
from music_codecs.midi_write import check_limits, write_midi
from music_codecs.note_table import NoteTable

FAST = settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])

# Mostly plausible note rows with, now and then, a huge beat (past MIDI's reach or just inside
# it), a code out of range or another event type.
BEAT = st.one_of(
    st.integers(1, 300), st.integers(1, 300), st.sampled_from([0, 2**17, 2**20, 2**20 + 1, 10**9])
)
PITCH = st.one_of(st.integers(1, 128), st.integers(1, 128), st.sampled_from([0, 129, 10**6]))
ROWS = st.lists(
    st.tuples(
        st.sampled_from([3] * 20 + [1, 2, 4, 7]),
        BEAT,
        st.integers(1, 12),
        PITCH,
        st.integers(1, len(codec.KNOWN_DURATIONS)),
        st.integers(1, len(codec.INSTRUMENT_NAMES) - 1),
    ),
    min_size=1,
    max_size=6,
)


def _round_trip(table, path):
    """write then read: the table's notes come back, or write refused with MusicFileError."""
    try:
        write_midi(table, path)
    except MusicFileError as err:
        assert "cannot write MIDI" in str(err)
        assert not path.exists() and not list(path.parent.glob("*.tmp*"))  # nothing half-written
        return None
    back = read_midi(path, allow_empty=True)
    assert len(back) == len(table)
    return back


@FAST
@given(rows=ROWS)
def test_decoded_codes_always_write_a_readable_file_or_refuse(tmp_path, rows):
    codes = np.array(rows, np.int64).reshape(-1, 6)
    try:
        table = codec.decode(codes)
    except ValueError as err:  # the codec's own refusal of codes no piece can have
        event(f"refused by decode: {str(err)[:24]}")
        return
    path = tmp_path / "out.mid"
    path.unlink(missing_ok=True)
    back = _round_trip(table, path)
    event("refused by write_midi" if back is None else f"written and read ({bool(len(back))})")
    if back is not None:
        assert sorted(back.onset.tolist()) == sorted(table.onset.tolist())


@FAST
@given(
    onset=hnp.arrays(np.int64, st.integers(1, 6), elements=st.integers(-2, 2**31)),
    resolution=st.sampled_from([1, 12, 480, 32767, 32768, 0x10000]),
    pitch=st.integers(-1, 128),
)
def test_any_table_writes_a_file_the_reader_accepts_or_refuses_in_one_line(
    tmp_path, onset, resolution, pitch
):
    n = len(onset)
    try:
        table = NoteTable(
            resolution,
            onset,
            np.ones(n),
            np.full(n, pitch),
            np.full(n, 64),
            np.zeros(n),
            np.zeros(n),
            np.zeros(n),
        )
    except ValueError:
        return
    path = tmp_path / "any.mid"
    path.unlink(missing_ok=True)
    _round_trip(table, path)


def test_the_limits_are_the_readers():
    n = 1
    ok = NoteTable(480, [MAX_QUARTERS * 480 - 10], [10], [60], [64], [0], [0], [0])
    check_limits(ok)
    for bad in (
        NoteTable(480, [MAX_QUARTERS * 480], [10], [60], [64], [0], [0], [0]),  # past the reader's end
        NoteTable(0x8000, [0], [1], [60], [64], [0], [0], [0]),  # division needs 15 bits
        NoteTable(480, [-1], [1], [60], [64], [0], [0], [0]),
        NoteTable(480, [0], [1], [128], [64], [0], [0], [0]),
        NoteTable(480, [0] * n, [1] * n, [60] * n, [64] * n, [200] * n, [0] * n, [0] * n),
    ):
        with pytest.raises(MusicFileError, match="cannot write MIDI"):
            check_limits(bad, "x.mid")

"""The paper's note encoding: round trips both ways, the rest step, short notes, drum onsets."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from musegan_jax import encoding
from musegan_jax.config import TRACKS
from music_codecs.note_table import NoteTable

STEPS = 32


@st.composite
def rolls(draw):
    cells = draw(
        st.lists(st.tuples(st.integers(0, STEPS - 1), st.integers(0, 83), st.integers(0, 4)), max_size=40)
    )
    roll = np.zeros((STEPS, 84, 5), bool)
    for s, p, t in cells:
        roll[s, p, t] = True
    return roll


@settings(max_examples=40)
@given(rolls())
def test_encode_of_decode_is_the_roll(roll):
    table = encoding.decode(roll, 4)
    assert table.track_names == ("Drums", "Piano", "Guitar", "Bass", "Strings")
    assert np.array_equal(encoding.encode(table, 4, range(5), steps=STEPS), roll)


@st.composite
def tables(draw):
    rows = []
    for track in range(5):
        for pitch in draw(st.lists(st.integers(24, 107), max_size=3, unique=True)):
            t = 0
            for gap, length in draw(st.lists(st.tuples(st.integers(0, 3), st.integers(2, 6)), max_size=4)):
                t += gap
                rows.append((t, 1 if track == 0 else length, pitch, track))
                t += 1 if track == 0 else length
    rows.sort(key=lambda r: (r[3], r[0], r[2], r[1]))
    n = len(rows)
    col = lambda i: [r[i] for r in rows]  # noqa: E731
    drum = [r[3] == 0 for r in rows]
    return NoteTable(4, col(0), col(1), col(2), [100] * n, [0] * n, drum, col(3))


@settings(max_examples=40)
@given(tables())
def test_decode_of_encode_gives_the_notes_back(table):
    back = encoding.decode(encoding.encode(table, 4, range(5)), 4)
    key = lambda t: sorted(zip(t.track, t.onset, t.pitch, t.duration))  # noqa: E731
    assert key(back) == key(table)


def test_rest_step_short_notes_drums_and_range():
    table = NoteTable(
        4,
        onset=[0, 4, 8, 0, 2, 0],
        duration=[4, 4, 1, 6, 1, 4],
        pitch=[60, 60, 62, 36, 120, 40],
        velocity=[64] * 6,
        program=[0, 0, 0, 0, 0, 33],
        is_drum=[0, 0, 0, 1, 0, 0],
        track=[0, 0, 0, 1, 0, 2],
    )
    roll = encoding.encode(table, 4, [TRACKS.index("piano"), TRACKS.index("drums"), TRACKS.index("bass")])
    piano = roll[:, 60 - 24, TRACKS.index("piano")]
    assert piano.tolist()[:9] == [1, 1, 1, 0, 1, 1, 1, 0, 0]  # repeated notes stay apart
    assert not roll[:, 62 - 24].any()  # a 1-step note is dropped
    assert np.flatnonzero(roll[:, 36 - 24, TRACKS.index("drums")]).tolist() == [0]  # onset only
    assert roll.shape[1] == 84 and roll[:, :, TRACKS.index("bass")].sum() == 3  # 120 out of range
    long = np.pad(roll, ((0, 64 - len(roll)), (0, 0), (0, 0)))
    long[40, 10, 1] = True
    phrases = encoding.to_phrases(long, 1, bars=4)  # 4-bar windows of 16 steps; empty ones dropped
    assert phrases.shape == (2, 4, 4, 84, 5) and phrases[1, 2, 0, 10, 1]

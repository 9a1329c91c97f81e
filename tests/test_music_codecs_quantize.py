"""Resolution changes with the MMT reference rounding, zero-duration fix, duplicates, trim."""

from hypothesis import given
from hypothesis import strategies as st

from music_codecs.note_table import NoteTable
from music_codecs.quantize import adjust_resolution, fix_zero_durations, remove_duplicates, trim


def table(notes, resolution=480, **meta):
    """notes: (onset, duration, pitch[, velocity, track])."""
    notes = [tuple(n) + (64, 0)[len(n) - 3 :] for n in notes]
    return NoteTable(
        resolution,
        [n[0] for n in notes],
        [n[1] for n in notes],
        [n[2] for n in notes],
        [n[3] for n in notes],
        [0] * len(notes),
        [False] * len(notes),
        [n[4] for n in notes],
        **meta,
    )


def test_adjust_resolution_rounds_half_to_even_and_keeps_ends():
    # 480 -> 12: f = 0.025; onsets 20 -> 0.5 -> 0, 60 -> 1.5 -> 2, 100 -> 2.5 -> 2 (half to even);
    # durations from the rounded end: (20+20)*f = 1 -> 1-0 = 1, (60+30)*f = 2.25 -> 2-2 = 0,
    # (100+60)*f = 4 -> 4-2 = 2, (500+1000)*f = 37.5 -> 38 - round(12.5)=12 -> 26.
    t = table(
        [(20, 20, 60), (60, 30, 61), (100, 60, 62), (500, 1000, 63)],
        tempo_tick=[0, 500],
        tempo_qpm=[120, 90],
        time_signatures=[[0, 4, 4], [100, 3, 4]],
    )
    out = adjust_resolution(t, 12)
    assert out.resolution == 12
    assert out.onset.tolist() == [0, 2, 2, 12]
    assert out.duration.tolist() == [1, 0, 2, 26]
    assert out.tempo_tick.tolist() == [0, 12]
    assert out.time_signatures.tolist() == [[0, 4, 4], [2, 3, 4]]


def test_adjust_resolution_upwards_is_exact_and_resorts():
    t = table([(3, 1, 70), (3, 2, 60)], resolution=4)
    out = adjust_resolution(t, 12)
    assert out.onset.tolist() == [9, 9] and out.pitch.tolist() == [60, 70] and out.duration.tolist() == [6, 3]


@given(
    st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 2_000), st.integers(0, 127)), max_size=30),
    st.sampled_from([24, 96, 384, 480, 960]),
    st.sampled_from([4, 12, 24]),
)
def test_adjust_resolution_matches_python_round(notes, old, new):
    out = adjust_resolution(table(notes, old).sorted(), new)
    expected = sorted(
        (round(o * (new / old)), round((o + d) * (new / old)) - round(o * (new / old)), p)
        for o, d, p in notes
    )
    assert sorted(zip(out.onset.tolist(), out.duration.tolist(), out.pitch.tolist())) == expected


def test_fix_zero_durations():
    out = fix_zero_durations(table([(0, 0, 60), (5, 3, 61), (9, 0, 62)]))
    assert out.duration.tolist() == [1, 3, 1]
    assert fix_zero_durations(table([(0, 0, 60)]), minimum=6).duration.tolist() == [6]


def test_remove_duplicates_keeps_first_in_order_per_track():
    notes = [
        (0, 4, 60, 64, 0),
        (0, 4, 60, 64, 0),
        (0, 4, 60, 70, 0),
        (0, 4, 60, 64, 1),
        (2, 4, 60, 64, 0),
        (0, 4, 60, 64, 0),
    ]
    out = remove_duplicates(table(notes))
    # same note in another track, or another velocity, is not a duplicate
    assert [tuple(r) for r in out.notes()[:, [0, 1, 2, 3, 6]].tolist()] == [
        (0, 4, 60, 64, 0),
        (0, 4, 60, 70, 0),
        (0, 4, 60, 64, 1),
        (2, 4, 60, 64, 0),
    ]
    assert len(remove_duplicates(NoteTable.empty())) == 0


def test_trim_drops_late_notes_and_cuts_long_ones():
    t = table(
        [(0, 10, 60), (5, 100, 61), (48, 4, 62), (50, 1, 63)],
        tempo_tick=[0, 48],
        tempo_qpm=[120, 60],
        time_signatures=[[0, 4, 4], [60, 3, 4]],
    )
    out = trim(t, 48)
    assert out.onset.tolist() == [0, 5] and out.duration.tolist() == [10, 43]
    assert out.tempo_tick.tolist() == [0] and out.time_signatures.tolist() == [[0, 4, 4]]

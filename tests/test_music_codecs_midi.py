"""MIDI reading (both backends, the MMT reference rule), writing, and bad files."""

import mido
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from music_codecs import midi_read
from music_codecs.errors import MusicFileError
from music_codecs.midi_read import read_midi
from music_codecs.midi_write import write_midi
from music_codecs.note_table import NoteTable

BACKENDS = ("symusic", "pretty_midi")
M, Meta = mido.Message, mido.MetaMessage


def save(path, tracks, tpq=480, kind=1):
    """tracks: lists of (absolute tick, message), kept in list order within a tick."""
    midi = mido.MidiFile(type=kind, ticks_per_beat=tpq)
    for events in tracks:
        track, last = mido.MidiTrack(), 0
        for tick, msg in sorted(events, key=lambda e: e[0]):
            track.append(msg.copy(time=tick - last))
            last = tick
        midi.tracks.append(track)
    midi.save(str(path))
    return path


def rows(table):
    return [tuple(r) for r in table.notes().tolist()]


def both(path, **kwargs):
    tables = [read_midi(path, backend=b, **kwargs) for b in BACKENDS]
    assert tables[0].equals(tables[1]) and tables[0].track_names == tables[1].track_names
    return tables[0]


# ------------------------------------------------------------------ the rule, hand-computed


def test_fifo_program_at_note_off_and_closing_at_track_end(tmp_path):
    conductor = [
        (0, Meta("set_tempo", tempo=500000)),
        (0, Meta("time_signature", numerator=3, denominator=4)),
        (960, Meta("set_tempo", tempo=400000)),
    ]
    lead = [
        (0, Meta("track_name", name="lead")),
        (0, M("note_on", channel=0, note=60, velocity=90)),
        (240, M("note_on", channel=0, note=60, velocity=80)),  # same pitch again: overlap
        (480, M("note_off", channel=0, note=60)),  # closes the first (FIFO)
        (600, M("program_change", channel=0, program=40)),  # while the second sounds
        (720, M("note_off", channel=0, note=60)),  # second closes under program 40
        (720, M("note_on", channel=0, note=62, velocity=70)),
        (720, M("note_on", channel=0, note=62, velocity=0)),  # velocity 0 = off: zero length
        (800, M("note_on", channel=1, note=64, velocity=50)),
        (900, M("note_on", channel=1, note=64, velocity=0)),
        (1000, M("note_on", channel=0, note=67, velocity=60)),  # never closed
        (1000, M("note_off", channel=0, note=50)),  # off without on: ignored
        (1200, M("control_change", channel=0, control=7, value=100)),
    ]
    drums = [
        (0, M("note_on", channel=9, note=36, velocity=100)),
        (10, M("note_off", channel=9, note=36)),
        (20, M("note_on", channel=9, note=38, velocity=100)),
    ]
    table = both(save(tmp_path / "edge.mid", [conductor, lead, drums]))
    # (onset, duration, pitch, velocity, program, is_drum, track)
    assert rows(table) == [
        (0, 480, 60, 90, 0, 0, 0),
        (240, 480, 60, 80, 40, 0, 1),
        (720, 0, 62, 70, 40, 0, 1),
        (1000, 200, 67, 60, 40, 0, 1),
        (800, 100, 64, 50, 0, 0, 2),
        (0, 10, 36, 100, 0, 1, 3),
        (20, 0, 38, 100, 0, 1, 3),  # closed at the track's last message
    ]
    assert table.track_names == ("lead", "lead", "lead", "")
    assert table.resolution == 480
    assert table.tempo_tick.tolist() == [0, 960] and table.tempo_qpm.tolist() == [120.0, 150.0]
    assert table.time_signatures.tolist() == [[0, 3, 4]]


def test_type0_tracks_in_order_of_first_appearance(tmp_path):
    events = [
        (0, M("control_change", channel=2, control=7, value=90)),  # key (0, ch2) appears first
        (0, M("program_change", channel=1, program=33)),
        (0, M("note_on", channel=1, note=40, velocity=100)),
        (0, M("note_on", channel=2, note=70, velocity=100)),
        (0, M("note_on", channel=0, note=60, velocity=100)),
        (100, M("note_off", channel=0, note=60)),  # (0, ch0) closes first
        (100, M("note_off", channel=1, note=40)),
        (200, M("note_off", channel=2, note=70)),
        (200, M("note_on", channel=0, note=61, velocity=100)),  # open twice at the end
        (250, M("note_on", channel=0, note=61, velocity=100)),
        (300, Meta("end_of_track")),
    ]
    table = both(save(tmp_path / "t0.mid", [events], kind=0))
    assert rows(table) == [
        (0, 200, 70, 100, 0, 0, 0),
        (0, 100, 60, 100, 0, 0, 1),
        (200, 100, 61, 100, 0, 0, 1),
        (250, 50, 61, 100, 0, 0, 1),
        (0, 100, 40, 100, 33, 0, 2),
    ]
    assert table.track_names == ("", "", "")  # a type-0 track name would be the song title


def test_end_of_track_loop_orders_keys_by_first_use(tmp_path):
    events = [
        (0, M("note_on", channel=0, note=60, velocity=9)),  # key (0, 60) used first...
        (5, M("note_off", channel=0, note=60)),  # ...and closed: track (0, ch0) first
        (5, M("program_change", channel=0, program=7)),
        (6, M("note_off", channel=0, note=60)),  # off without on: key still "used"
        (7, M("note_on", channel=1, note=61, velocity=9)),  # left open
        (8, M("note_on", channel=0, note=62, velocity=9)),  # left open, under program 7
        (20, Meta("end_of_track")),
    ]
    table = both(save(tmp_path / "order.mid", [[], events]))
    # closing loop: (0, 60) -> key (7, ch0) appears (no note yet); (1, 61) -> (0, ch1);
    # (0, 62) -> its note joins (7, ch0), which therefore comes before (0, ch1).
    assert rows(table) == [(0, 5, 60, 9, 0, 0, 0), (8, 12, 62, 9, 7, 0, 1), (7, 13, 61, 9, 0, 0, 2)]


# ------------------------------------------------------------------ the backends agree

_event = st.one_of(
    st.tuples(st.just("on"), st.sampled_from([0, 1, 9]), st.sampled_from([60, 61, 62]), st.integers(0, 127)),
    st.tuples(st.just("off"), st.sampled_from([0, 1, 9]), st.sampled_from([60, 61, 62]), st.just(0)),
    st.tuples(st.just("pc"), st.sampled_from([0, 1, 9]), st.sampled_from([0, 5, 40]), st.just(0)),
    st.tuples(st.just("cc"), st.sampled_from([0, 1, 9]), st.just(7), st.integers(0, 127)),
    st.tuples(st.just("tempo"), st.just(0), st.integers(200_000, 900_000), st.just(0)),
)
_track = st.lists(st.tuples(st.integers(0, 300), _event), max_size=25)


def _message(kind, channel, a, b):
    return {
        "on": lambda: M("note_on", channel=channel, note=a, velocity=b),
        "off": lambda: M("note_off", channel=channel, note=a),
        "pc": lambda: M("program_change", channel=channel, program=a),
        "cc": lambda: M("control_change", channel=channel, control=a, value=b),
        "tempo": lambda: Meta("set_tempo", tempo=a),
    }[kind]()


@given(
    tracks=st.lists(_track, min_size=1, max_size=4),
    kind=st.sampled_from([0, 1]),
    tpq=st.sampled_from([1, 96, 480]),
    single_channel=st.booleans(),
)
def test_backends_agree_on_random_files(tmp_path_factory, tracks, kind, tpq, single_channel):
    if kind == 0:
        tracks = [sum(tracks, [])]
    midi_tracks = []
    for events in tracks:
        tick, out = 0, []
        for delta, (k, channel, a, b) in events:
            tick += delta
            # single-channel tracks with early program changes take symusic's fast path
            out.append((tick, _message(k, 0 if single_channel else channel, a, b)))
        midi_tracks.append(out)
    path = save(tmp_path_factory.mktemp("r") / "random.mid", midi_tracks, tpq=tpq, kind=kind)
    tables = [read_midi(path, backend=b, allow_empty=True) for b in BACKENDS]
    assert tables[0].equals(tables[1]) and tables[0].track_names == tables[1].track_names
    notes_on = sum(1 for events in tracks for _, e in events if e[0] == "on" and e[3] > 0)
    assert len(tables[0]) == notes_on  # every note-on becomes exactly one note


def test_fast_and_careful_paths_both_taken(tmp_path, monkeypatch):
    """The symusic path patches symusic only where its reading can differ from the rule."""
    calls = []
    original = midi_read._scan_track
    monkeypatch.setattr(midi_read, "_scan_track", lambda body: calls.append(1) or original(body))
    simple = [
        (0, M("program_change", channel=0, program=5)),
        (0, M("note_on", channel=0, note=60, velocity=9)),
        (10, M("note_off", channel=0, note=60)),
    ]
    read_midi(save(tmp_path / "simple.mid", [simple]))
    assert calls == []
    changing = simple + [(20, M("program_change", channel=0, program=6))]
    read_midi(save(tmp_path / "changing.mid", [changing]))
    assert calls == [1]


# ------------------------------------------------------------------ writing


def _fifo_consistent(notes):
    """Within a track and pitch, sorted by onset, ends must not decrease (else MIDI re-pairs)."""
    out, last_end = [], {}
    for onset, duration, pitch, velocity, track in sorted(notes):
        key = (track, pitch)
        end = max(onset + duration, last_end.get(key, 0))
        last_end[key] = end
        out.append((onset, end - onset, pitch, velocity, track))
    return out


@given(
    notes=st.lists(
        st.tuples(
            st.integers(0, 2000),
            st.integers(0, 500),
            st.integers(0, 127),
            st.integers(1, 127),
            st.integers(0, 3),
        ),
        min_size=1,
        max_size=40,
    ),
    programs=st.lists(st.integers(0, 127), min_size=4, max_size=4),
    drums=st.lists(st.booleans(), min_size=4, max_size=4),
    tpq=st.sampled_from([12, 96, 480, 960]),
    tempos=st.dictionaries(st.integers(0, 3000), st.integers(100_000, 2_000_000), max_size=3),
    name=st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), max_size=8),
)
def test_write_then_read_is_exact(tmp_path_factory, notes, programs, drums, tpq, tempos, name):
    notes = _fifo_consistent(notes)
    used = sorted({n[4] for n in notes})
    renumber = {t: i for i, t in enumerate(used)}  # tables from files have no empty tracks
    table = NoteTable(
        tpq,
        [n[0] for n in notes],
        [n[1] for n in notes],
        [n[2] for n in notes],
        [n[3] for n in notes],
        [programs[n[4]] for n in notes],
        [drums[n[4]] for n in notes],
        [renumber[n[4]] for n in notes],
        tempo_tick=sorted(tempos),
        tempo_qpm=[60_000_000 / tempos[t] for t in sorted(tempos)],
        time_signatures=[[0, 3, 8], [tpq * 3, 4, 4]],
        track_names=tuple(f"{name}{i}" for i in range(len(used))),
    ).sorted()
    path = write_midi(table, tmp_path_factory.mktemp("w") / "out.mid")
    for backend in BACKENDS:
        back = read_midi(path, backend=backend)
        assert back.equals(table), backend
        # MIDI track 0 holds the tempos, so every written track gets its name back.
        assert back.track_names == table.track_names


def test_read_write_read_is_stable(tmp_path):
    events = [
        (0, M("note_on", channel=0, note=60, velocity=90)),
        (240, M("note_on", channel=0, note=60, velocity=80)),
        (480, M("note_off", channel=0, note=60)),
        (720, M("note_off", channel=0, note=60)),
        (800, M("note_on", channel=0, note=62, velocity=5)),
        (800, M("note_off", channel=0, note=62)),
    ]
    first = both(save(tmp_path / "a.mid", [[], events]))
    again = both(write_midi(first, tmp_path / "b.mid"))
    assert again.equals(first)
    assert rows(first) == [(0, 480, 60, 90, 0, 0, 0), (240, 480, 60, 80, 0, 0, 0), (800, 0, 62, 5, 0, 0, 0)]


# ------------------------------------------------------------------ bad files


def _assert_bad(path, reason_part, **kwargs):
    for backend in BACKENDS:
        with pytest.raises(MusicFileError) as info:
            read_midi(path, backend=backend, **kwargs)
        assert path.name in str(info.value) and reason_part in info.value.reason, (backend, info.value)


def test_bad_files_raise_with_file_name_and_reason(tmp_path):
    note = [(0, M("note_on", channel=0, note=60, velocity=90)), (10, M("note_off", channel=0, note=60))]
    garbage = tmp_path / "garbage.mid"
    garbage.write_bytes(b"this is not a MIDI file at all")
    _assert_bad(garbage, "not a MIDI file")
    _assert_bad(save(tmp_path / "type2.mid", [note], kind=2), "type 2")
    good = save(tmp_path / "good.mid", [note]).read_bytes()
    truncated = tmp_path / "truncated.mid"
    truncated.write_bytes(good[:-6])
    _assert_bad(truncated, "truncated")
    smpte = tmp_path / "smpte.mid"
    smpte.write_bytes(good[:12] + bytes([0xE7, 0x28]) + good[14:])  # -25 fps: no ticks per quarter
    _assert_bad(smpte, "ticks per quarter")
    corrupt = tmp_path / "corrupt.mid"
    index = good.index(bytes([0x90, 60, 90]))
    corrupt.write_bytes(good[:index] + bytes([0x90, 60, 200]) + good[index + 3 :])  # velocity 200
    _assert_bad(corrupt, "corrupt")
    empty = save(tmp_path / "empty.mid", [[(0, M("control_change", channel=0, control=7, value=1))]])
    _assert_bad(empty, "no notes")
    assert all(len(read_midi(empty, backend=b, allow_empty=True)) == 0 for b in BACKENDS)
    _assert_bad(tmp_path / "missing.mid", "cannot open")


def test_absurd_files(tmp_path, monkeypatch):
    late = [
        (0, M("note_on", channel=0, note=60, velocity=90)),
        (midi_read.MAX_QUARTERS + 1, M("note_off", channel=0, note=60)),
    ]
    _assert_bad(save(tmp_path / "long.mid", [late], tpq=1), "absurd")
    monkeypatch.setattr(midi_read, "MAX_NOTES", 2)
    many = [(i, M("note_on", channel=0, note=60 + i, velocity=9)) for i in range(3)]
    _assert_bad(save(tmp_path / "many.mid", [many]), "absurd")


def test_unknown_backend_is_rejected(tmp_path):
    with pytest.raises(ValueError):
        read_midi(tmp_path / "x.mid", backend="muspy")


def test_write_keeps_zero_velocity_notes_as_velocity_one(tmp_path):
    table = NoteTable(480, [0], [10], [60], [0], [0], [False], [0])
    back = read_midi(write_midi(table, tmp_path / "v.mid"))
    assert back.velocity.tolist() == [1] and back.duration.tolist() == [10]


def test_notes_table_arrays_are_int64(tmp_path):
    table = both(
        save(
            tmp_path / "n.mid",
            [[(0, M("note_on", channel=0, note=60, velocity=9)), (5, M("note_off", channel=0, note=60))]],
        )
    )
    assert table.onset.dtype == np.int64 and table.is_drum.dtype == bool

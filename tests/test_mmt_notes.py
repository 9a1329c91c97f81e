"""From a MIDI file to the MMT note array, as the reference's convert + extract scripts do it."""

import mido
import numpy as np
import pytest

from mmt_jax import notes as notes_lib
from music_codecs.note_table import NoteTable

TPQ = 480


def write_midi(path, tracks, tpq=TPQ):
    """tracks: (channel, program, [(onset_tick, duration_tick, pitch), ...]) per MIDI track."""
    mid = mido.MidiFile(type=1, ticks_per_beat=tpq)
    meta = mido.MidiTrack()
    meta.append(mido.MetaMessage("set_tempo", tempo=500000, time=0))
    mid.tracks.append(meta)
    for channel, program, notes in tracks:
        events = []
        for onset, duration, pitch in notes:
            events.append((onset, 1, mido.Message("note_on", channel=channel, note=pitch, velocity=80)))
            events.append(
                (onset + duration, 0, mido.Message("note_off", channel=channel, note=pitch, velocity=0))
            )
        events.sort(key=lambda e: (e[0], e[1]))
        track = mido.MidiTrack([mido.Message("program_change", channel=channel, program=program, time=0)])
        now = 0
        for tick, _, msg in events:
            track.append(msg.copy(time=tick - now))
            now = tick
        mid.tracks.append(track)
    mid.save(path)
    return path


def piano_run(n, first_beat=2):
    """n quarter notes on consecutive beats from first_beat."""
    return [((first_beat + i) * TPQ, TPQ, 60 + i % 12) for i in range(n)]


@pytest.fixture
def rich_midi(tmp_path):
    piano = piano_run(60) + [
        (980, 480, 50),  # onset 24.5 -> 24 (half to even), end 36.5 -> 36
        (1020, 10, 51),  # onset 25.5 -> 26, end 25.75 -> 26: zero duration becomes 1
        (1060, 40, 52),  # onset 26.5 -> 26, end 27.5 -> 28
        (960, 480, 60),  # exact duplicate of the first piano note
    ]
    tracks = [
        (0, 0, piano),
        (3, 1, [(960, 480, 60)]),  # same note on program 1 (also piano): kept, other program
        (1, 41, [(10 * TPQ + 120, 960, 67)]),  # viola, beat 10 position 3
        (2, 100, [(TPQ * 3, TPQ, 70)] * 1),  # dropped program
        (9, 0, [(0, TPQ, 36), (TPQ, TPQ, 38)]),  # drums (channel 10), even earlier than beat 2
    ]
    return write_midi(tmp_path / "rich.mid", tracks)


def expected_rich():
    rows = [(i, 0, 60 + i % 12, 12, 0) for i in range(60)]
    rows += [(0, 0, 50, 12, 0), (0, 2, 51, 1, 0), (0, 2, 52, 2, 0), (0, 0, 60, 12, 1), (8, 3, 67, 24, 41)]
    return sorted(rows)


@pytest.mark.parametrize("backend", ["symusic", "pretty_midi"])
def test_midi_file_to_notes(rich_midi, backend):
    notes = notes_lib.file_to_notes(rich_midi, backend=backend)
    assert notes.dtype == np.int64 and notes.shape == (65, 5)
    assert [tuple(r) for r in notes.tolist()] == expected_rich()


def test_fewer_than_50_notes_is_skipped(tmp_path):
    path = write_midi(
        tmp_path / "short.mid", [(0, 0, piano_run(49, 0)), (9, 0, [(i * TPQ, TPQ, 36) for i in range(60)])]
    )
    with pytest.raises(notes_lib.SkippedPiece, match="49 notes"):
        notes_lib.file_to_notes(path)
    assert len(notes_lib.file_to_notes(path, min_notes=49)) == 49


def table(onsets, durations, resolution=12, pitch=60, program=0, drum=False, **meta):
    n = len(onsets)
    return NoteTable(
        resolution,
        onsets,
        durations,
        np.full(n, pitch),
        np.full(n, 64),
        np.full(n, program),
        np.full(n, drum),
        np.zeros(n, int),
        **meta,
    )


def test_end_time_limits():
    # 50 notes ending exactly at beat 40 are kept; one tick less is too short
    ok = table(np.arange(50) * 9, [1] * 49 + [480 - 49 * 9])
    assert ok.end == 480 and len(notes_lib.table_to_notes(ok)) == 50
    short = table(np.arange(50) * 9, [1] * 49 + [479 - 49 * 9])
    with pytest.raises(notes_lib.SkippedPiece, match="too short"):
        notes_lib.table_to_notes(short)
    # a late tempo change counts toward the end, as muspy's get_end_time does
    assert (
        len(
            notes_lib.table_to_notes(
                short.replace(tempo_tick=np.array([0, 480]), tempo_qpm=np.array([120.0, 90.0]))
            )
        )
        == 50
    )
    long = table(np.arange(50) * 12, [1] * 49 + [96_001 - 49 * 12])
    with pytest.raises(notes_lib.SkippedPiece, match="too long"):
        notes_lib.table_to_notes(long)
    assert len(notes_lib.table_to_notes(long, filters=False)) == 50


def test_extract_notes_sorts_dedupes_and_drops():
    t = NoteTable(
        12,
        onset=[25, 0, 0, 0, 5],
        duration=[3, 12, 12, 12, 1],
        pitch=[60, 61, 61, 61, 62],
        velocity=[1, 2, 3, 4, 5],
        program=[0, 0, 0, 76, 0],
        is_drum=[0, 0, 0, 0, 1],
        track=[0, 0, 1, 2, 3],
    )
    assert notes_lib.extract_notes(t).tolist() == [[0, 0, 61, 12, 0], [2, 1, 60, 3, 0]]


def test_array_files_round_trip(tmp_path):
    rows = np.array(expected_rich(), np.int64)
    notes_lib.save_csv(tmp_path / "a.csv", rows)
    header = (tmp_path / "a.csv").read_text().splitlines()[0]
    assert header == "beat,position,pitch,duration,program"
    assert np.array_equal(notes_lib.load_array(tmp_path / "a.csv", 5), rows)
    np.save(tmp_path / "b.npy", rows.astype(float))
    with pytest.raises(notes_lib.UserError, match="integer array"):
        notes_lib.load_array(tmp_path / "b.npy", 5)


def test_musicxml_repeats_fall_back_to_the_written_score():
    calls = []

    def reader(path, expand_repeats):
        calls.append(expand_repeats)
        if expand_repeats:
            raise notes_lib.MusicFileError(path, "cannot expand repeats (badly formed)")
        return "as written"

    assert notes_lib.with_repeats(reader, "x.mxl") == "as written" and calls == [True, False]

    def broken(path, expand_repeats):
        raise notes_lib.MusicFileError(path, "no notes")

    with pytest.raises(notes_lib.MusicFileError, match="no notes"):
        notes_lib.with_repeats(broken, "x.mxl")

"""Arranger datasets: music21 conversion, part rules, collection rules, splits and storage."""

import numpy as np
import pytest

from arranger_jax import data, labels


def _part(name, elements):
    from music21 import stream

    part = stream.Part()
    part.partName = name
    for offset, element in elements:
        part.insert(offset, element)
    return part


def _note(pitch, ql, tie=None):
    from music21 import note
    from music21 import tie as tie_mod

    n = note.Note(pitch, quarterLength=ql)
    if tie:
        n.tie = tie_mod.Tie(tie)
    return n


def test_music21_notes_merge_ties_skip_grace_expand_chords():
    from music21 import chord

    grace = _note("D4", 1).getGrace()
    part = _part(
        "Soprano",
        [
            (0, _note("C4", 1, "start")),
            (1, _note("C4", 1, "continue")),
            (2, _note("C4", 0.5, "stop")),
            (2.5, grace),
            (3, chord.Chord(["E4", "G4"], quarterLength=1)),
            (4, _note("A4", 1 / 3)),
        ],
    )
    notes = data.music21_part_notes(part)
    # time, pitch, duration (24 steps per quarter), velocity
    assert notes[:, :3].tolist() == [[0, 60, 60], [72, 64, 24], [72, 67, 24], [96, 69, 8]]


def test_music21_interrupted_tie_sums_the_tied_durations_like_muspy():
    # B-flat tied over an intervening C (bwv362 has one): the reference's muspy 0.3 adds the
    # tied durations (1 + 1 quarters), it does not stretch the note to the stop's end (3).
    part = _part("Bass", [(0, _note("B-3", 1, "start")), (1, _note("C4", 1)), (2, _note("B-3", 1, "stop"))])
    assert data.music21_part_notes(part)[:, :3].tolist() == [[0, 58, 48], [24, 60, 24]]


def test_music21_bach_piece_labels_sorts_and_drops_instruments():
    from music21 import stream

    score = stream.Score()
    # 11 notes per voice so that two parts count (> 10 notes each)
    score.insert(0, _part("Horn 1", [(i, _note("C5", 1)) for i in range(11)]))
    score.insert(0, _part("Soprano", [(i, _note("E5", 1)) for i in range(11)]))
    score.insert(0, _part("Bass", [(i, _note("C3", 1)) for i in range(11)]))
    piece = data.music21_piece(score, "test", "bach")
    assert len(piece) == 22
    # sorted by time, then pitch: the bass note comes first at every onset
    assert piece.label.tolist() == [3, 0] * 11
    assert piece.time.tolist() == sorted(piece.time.tolist())
    assert set(piece.pitch.tolist()) == {48, 76}


def test_make_piece_rules():
    notes = np.array(
        [[0, 60, 24, 10], [0, 60, 24, 99], [24, 62, 0, 80]] + [[24 * i, 50, 24, 64] for i in range(2, 13)]
    )
    other = np.array([[24 * i, 40, 24, 64] for i in range(11)])
    piece = data.make_piece("x", {0: [notes], 2: [other]}, 4)
    top = piece.select(piece.label == 0)
    # zero-length note dropped, duplicate kept once with the last velocity
    assert len(top) == 12 and top.velocity[0] == 99
    assert np.all(np.diff(piece.time) >= 0)
    # only one part with more than ten notes -> not kept
    assert data.make_piece("y", {0: [notes], 2: [other[:10]]}, 4) is None


def test_part_name_rules():
    assert labels.bach_label("soprano") == 0 and labels.bach_label("Bass") == 3
    assert labels.bach_label("Soprano 1") is None and labels.bach_label("Piano") is None
    assert labels.bach_label("Tenor\rViola", "bwv171.6") == 2
    assert labels.musicnet_label("Violin 2") == 1 and labels.musicnet_label("Violoncello") == 3
    assert labels.musicnet_label("Violino II") == 0  # the reference's substring quirk
    assert labels.musicnet_label("x", "1932_dv96_3", 4) == 3
    assert labels.nes_label("no") is None and labels.nes_label("tr") == 2
    assert [labels.lmd_label(p) for p in (0, 25, 33, 46, 49, 60, 80)] == [0, 1, 2, None, 3, 4, None]
    assert labels.quartet_label(2, 4) == 2 and labels.quartet_label(0, 5) is None


def test_split_is_seeded_and_near_8_1_1():
    names = [f"f{i}" for i in range(3000)]
    a, b = data.split_pieces(names, seed=0), data.split_pieces(names, seed=0)
    assert a == b and a != data.split_pieces(names, seed=1)
    share = {s: sum(v == s for v in a.values()) / len(names) for s in data.SPLITS}
    assert abs(share["train"] - 0.8) < 0.03 and abs(share["test"] - 0.1) < 0.03


def test_save_and_load_dataset_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    pieces = []
    for i in range(12):
        n = 30 + i
        notes = np.stack(
            [
                np.sort(rng.integers(0, 500, n)),
                rng.integers(40, 80, n),
                rng.integers(1, 48, n),
                np.full(n, 64),
                rng.integers(0, 4, n),
            ],
            1,
        )
        pieces.append(data.Piece.from_notes(f"p{i}", notes))
    info = data.save_dataset(pieces, [("bad", "unreadable")], tmp_path, "bach")
    loaded = data.load_dataset(tmp_path)
    back = {p.name: p for split in loaded.values() for p in split}
    assert set(back) == {p.name for p in pieces}
    for p in pieces:
        assert np.array_equal(back[p.name].notes(), p.notes())
    assert info["files"] == 12 and info["skipped"] == 1
    assert (tmp_path / "skipped.txt").read_text() == "bad\tunreadable\n"


def test_missing_dataset_is_a_user_error(tmp_path):
    from music_codecs.errors import UserError

    with pytest.raises(UserError):
        data.load_dataset(tmp_path / "nothing")


def test_exact_split_fills_every_split():
    names = [f"q{i}" for i in range(46)]
    split = data.split_pieces(names, seed=0, exact=True)
    counts = {s: sum(v == s for v in split.values()) for s in data.SPLITS}
    assert counts == {"train": 36, "valid": 5, "test": 5}
    assert split == data.split_pieces(names, seed=0, exact=True)


def test_duplicate_piece_names_are_refused(tmp_path):
    from music_codecs.errors import UserError

    notes = np.array([[0, 60, 24, 64, 0]])
    with pytest.raises(UserError):
        data.save_dataset([data.Piece.from_notes("a", notes)] * 2, [], tmp_path, "bach")


def _table(names, programs, drums=(), resolution=96, notes_per_track=12):
    from music_codecs.note_table import NoteTable

    rows = []
    for track in range(len(names)):
        for i in range(notes_per_track):
            rows.append(
                [
                    i * resolution,
                    resolution,
                    40 + 5 * track + i % 3,
                    90,
                    programs[track],
                    track in drums,
                    track,
                ]
            )
    return NoteTable.from_notes(rows, resolution, track_names=names)


def test_midi_tracks_to_parts_for_each_dataset():
    quartet = _table(["Violin 2", "Violoncello", "Flute", "1st Violin"], [40, 42, 73, 40])
    piece = data.note_table_piece(quartet, "x", "musicnet")
    assert sorted(set(piece.label.tolist())) == [0, 1, 3] and len(piece) == 36
    assert piece.time.max() == 11 * 24  # rescaled to 24 steps per quarter
    nes = _table(["p1", "p2", "tr", "no"], [80, 81, 38, 121])
    piece = data.note_table_piece(nes, "y", "nes")
    assert len(piece) == 36 and piece.time.max() == 11 * 50  # 100 steps/s at 120 qpm
    assert set(piece.velocity.tolist()) == {64}
    pop = _table(["a", "b", "c", "d"], [1, 33, 0, 80], drums=(3,))
    piece = data.note_table_piece(pop, "z", "lmd")
    # the two piano tracks merge into one part; the drum track is left out
    assert np.bincount(piece.label, minlength=5).tolist() == [24, 0, 12, 0, 0]


def test_collect_folder_reads_midi_and_skips_bad_files(tmp_path):
    from music_codecs.midi_write import write_midi

    write_midi(_table(["Piano", "Bass"], [0, 33]), tmp_path / "good.mid")
    (tmp_path / "bad.mid").write_bytes(b"not a midi file")
    pieces, skipped, given = data.collect_folder("lmd", tmp_path, progress=False)
    assert [p.name for p in pieces] == ["good"] and len(pieces[0]) == 24
    assert [name for name, _ in skipped] == ["bad"] and given == {}


def test_seconds_follow_the_tempo_map():
    table = _table(["a"], [0], resolution=10, notes_per_track=4)  # ends at tick 40
    assert data._seconds(table) == 40 / 10 * 0.5  # 120 qpm by default
    table = table.replace(tempo_tick=np.array([0, 20]), tempo_qpm=np.array([60.0, 120.0]))
    assert data._seconds(table) == 2 * 1.0 + 2 * 0.5

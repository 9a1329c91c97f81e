"""The preparation job: layout, skip report, splits, and the command line."""

import json
import random

import numpy as np
import pretty_midi
import pytest

from mmt_jax import cli, prepare
from train_kit.cli import run_cli


def write_piece(path, n_notes, program=0, start_beat=0.0):
    """n_notes quarter notes at 120 bpm (one per beat) from start_beat."""
    pm = pretty_midi.PrettyMIDI(resolution=480, initial_tempo=120)
    inst = pretty_midi.Instrument(program=program)
    for i in range(n_notes):
        t = (start_beat + i) * 0.5
        inst.notes.append(pretty_midi.Note(velocity=90, pitch=48 + i % 24, start=t, end=t + 0.5))
    pm.instruments.append(inst)
    path.parent.mkdir(parents=True, exist_ok=True)
    pm.write(str(path))


@pytest.fixture
def music_dir(tmp_path):
    src = tmp_path / "in"
    write_piece(src / "good.mid", 60, start_beat=3)
    write_piece(src / "sub" / "strings.midi", 80, program=48)
    write_piece(src / "few.mid", 45)
    (src / "corrupt.mid").write_bytes(b"MThd\x00\x00\x00\x06garbage-not-a-midi-file")
    (src / "empty.mid").write_bytes(b"")
    (src / "notes.txt").write_text("not music")
    return src


def test_prepare_folder_layout_and_skip_report(music_dir, tmp_path):
    items = prepare.find_music_files(music_dir)
    assert [n for n, _ in items] == ["corrupt", "empty", "few", "good", "sub/strings"]
    out = tmp_path / "out"
    report = prepare.prepare(items, out, progress=False)
    assert report["kept_names"] == ["good", "sub/strings"] and report["notes"] == 140
    reasons = {s["name"]: s["reason"] for s in report["skipped"]}
    assert set(reasons) == {"corrupt", "empty", "few"}
    assert "45 notes" in reasons["few"] and all(reasons.values())
    assert (out / "names.txt").read_text().split() == ["good", "sub/strings"]
    good = np.load(out / "notes" / "good.npy")
    assert good.dtype == np.int64 and good.shape == (60, 5)
    assert good[0].tolist() == [0, 0, 48, 12, 0]  # first beat moved from 3 to 0
    assert np.array_equal(
        np.loadtxt(out / "notes" / "sub" / "strings.csv", dtype=np.int64, delimiter=",", skiprows=1),
        np.load(out / "notes" / "sub" / "strings.npy"),
    )
    encoding = json.loads((out / "notes" / "encoding.json").read_text())
    assert encoding["resolution"] == 12 and encoding["n_tokens"] == [5, 1026, 13, 129, 33, 65]
    assert encoding["duration_code_map"]["null"] == 0
    saved = json.loads((out / "prepare-report.json").read_text())
    assert saved["skipped_count"] == 3
    split = {s: (out / f"{s}-names.txt").read_text().split() for s in prepare.SPLITS}
    assert split == {"train": ["good", "sub/strings"], "valid": [], "test": []}


def test_parallel_workers_give_the_same_result(music_dir, tmp_path):
    items = prepare.find_music_files(music_dir)
    one = prepare.prepare(items, tmp_path / "a", progress=False)
    two = prepare.prepare(items, tmp_path / "b", workers=2, progress=False)
    assert one["kept_names"] == two["kept_names"] and one["skipped"] == two["skipped"]
    for name in one["kept_names"]:
        assert np.array_equal(
            np.load(tmp_path / "a" / "notes" / f"{name}.npy"),
            np.load(tmp_path / "b" / "notes" / f"{name}.npy"),
        )


def test_seeded_split_is_the_reference_split():
    names = [f"piece-{i:03d}" for i in range(57)]
    state = random.getstate()
    split = prepare.seeded_split(names, seed=0)
    assert random.getstate() == state  # the caller's random state is left alone
    assert len(split["valid"]) == len(split["test"]) == 5 and len(split["train"]) == 47
    rng = random.Random(0)
    drawn = rng.sample(names, 10)
    assert split["valid"] == drawn[:5] and split["test"] == drawn[5:]
    assert split["train"] == [n for n in names if n not in drawn]
    assert prepare.seeded_split(names, seed=1) != split


def test_split_lists_from_files(tmp_path):
    lists = {"train": ["a", "b", "gone"], "valid": ["c"], "test": ["d"]}
    for part, names in lists.items():
        (tmp_path / f"{part}-names.txt").write_text("\n".join(names) + "\n")
    split, notes = prepare.split_from_files(["a", "b", "c", "d", "extra"], tmp_path)
    assert split == {"train": ["a", "b"], "valid": ["c"], "test": ["d"]}
    assert notes == {"listed_but_not_prepared": ["gone"], "prepared_but_not_listed": ["extra"]}


def test_sod_names(tmp_path):
    write_piece(tmp_path / "Musicalion" / "12" / "score.mid", 3)
    assert prepare.find_music_files(tmp_path, sod_names=True) == [
        ("Musicalion/Musicalion-12", str(tmp_path / "Musicalion" / "12" / "score.mid"))
    ]


def test_command_line(music_dir, tmp_path, capsys):
    out = tmp_path / "cli"
    code = run_cli(
        "mmt-jax", "", cli.COMMANDS, ["prepare", "--input", str(music_dir), "--out", str(out), "--quiet"]
    )
    assert code == 0 and (out / "notes" / "good.npy").is_file()
    assert "prepared 2 of 5 pieces" in capsys.readouterr().out
    code = run_cli(
        "mmt-jax", "", cli.COMMANDS, ["prepare", "--input", str(tmp_path / "nowhere"), "--output", str(out)]
    )  # old spelling
    assert code == 2 and "input folder not found" in capsys.readouterr().err


def test_musicxml_file(tmp_path):
    import music21

    part = music21.stream.Part([music21.instrument.Violin()])
    for i in range(52):
        part.append(music21.note.Note(55 + i % 12, quarterLength=1 if i % 4 else 0.5))
    part.append(music21.note.Rest(quarterLength=0.5))
    (tmp_path / "in").mkdir()
    music21.stream.Score([part]).write("musicxml", fp=str(tmp_path / "in" / "violin.musicxml"))
    report = prepare.prepare(prepare.find_music_files(tmp_path / "in"), tmp_path / "out", progress=False)
    assert report["kept_names"] == ["violin"], report["skipped"]
    notes = np.load(tmp_path / "out" / "notes" / "violin.npy")
    assert notes.shape == (52, 5) and set(notes[:, 4]) == {40}
    assert notes[:3].tolist() == [[0, 0, 55, 6, 40], [0, 6, 56, 12, 40], [1, 6, 57, 12, 40]]

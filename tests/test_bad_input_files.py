"""Bad file contents, a full disk and a second writer, through the real console scripts: one
line and a non-zero exit (or a correct result), inputs and earlier outputs byte-identical.

The full disk is RLIMIT_FSIZE in the child (SIGXFSZ ignored, so writes fail with EFBIG): no
root needed. None of these cases starts JAX."""

import fcntl
import os

import numpy as np
import pytest
from bad_input import Case, assert_clean, run_cases, run_one, tree_hash

from music_codecs.midi_write import write_midi
from music_codecs.note_table import NoteTable

MANY = 3000  # note rows in big.npy: its CSV (~60 kB) and MIDI (~20 kB) overrun the 8 kB "disk"


def _song(path, n=80, pitch0=48):
    i = np.arange(n)
    table = NoteTable(
        resolution=24,
        onset=i * 12,
        duration=np.full(n, 12),
        pitch=pitch0 + i % 24,
        velocity=np.full(n, 80),
        program=np.zeros(n, int),
        is_drum=np.zeros(n, bool),
        track=np.zeros(n, int),
        tempo_tick=[0],
        tempo_qpm=[120.0],
        track_names=("Piano",),
    )
    write_midi(table, path)


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    root = tmp_path_factory.mktemp("files")
    rows = [[0, 0, 0, 0, 0, 0], [1, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 0]]
    rows += [[3, 1 + k // 12, 1 + k % 12, 40 + k % 40, 5, 1] for k in range(MANY)]
    np.save(root / "big.npy", np.array(rows + [[4, 0, 0, 0, 0, 0]]))
    np.save(root / "flat.npy", np.arange(12))
    np.save(root / "cube.npy", np.zeros((2, 3, 6), int))
    np.save(root / "fraction.npy", np.array([[3, 1.5, 1, 61, 5, 1]]))
    np.save(root / "nan.npy", np.array([[3, np.nan, 1, 61, 5, 1]]))
    np.save(root / "huge_beat.npy", np.array([[3, 10**9, 1, 61, 5, 1]]))
    np.save(root / "object.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    np.save(root / "bad_type.npy", np.array([[9, 1, 1, 61, 5, 1]]))
    (root / "garbage.csv").write_text("type,beat\n1,x,3\n")
    (root / "garbage.npy").write_bytes(b"\x93NUMPY garbage")
    (root / "corrupt.mid").write_bytes(
        b"MThd\x00\x00\x00\x06\x00\x01\x00\x02\x01\xe0MTrk\x00\x00\xff\xff\x90"
    )
    (root / "empty.mid").write_bytes(b"")
    (root / "text.mid").write_text("not a MIDI file at all\n")
    for folder in ("corrupt_in", "songs", "locked", "run"):
        (root / folder).mkdir()
    for name in ("corrupt.mid", "text.mid"):
        (root / "corrupt_in" / name).write_bytes((root / name).read_bytes())
    for k in range(3):
        _song(root / "songs" / f"song{k}.mid", pitch0=40 + 5 * k)
    # earlier outputs, which failed later runs must leave as they were
    assert run_one(root, Case("mmt-jax", ["decode", "big.npy", "old.csv"])).returncode == 0
    assert run_one(root, Case("mmt-jax", ["decode", "big.npy", "old.mid"])).returncode == 0
    return root


CODES = [
    ("flat.npy", "shape"),
    ("cube.npy", "shape"),
    ("fraction.npy", "integer"),
    ("nan.npy", "integer"),
    ("huge_beat.npy", "beat"),
    ("object.npy", "cannot load"),
    ("bad_type.npy", "event type"),
    ("garbage.csv", "cannot load"),
    ("garbage.npy", "cannot load"),
]
MUSIC = ["corrupt.mid", "empty.mid", "text.mid"]


def test_bad_files_full_disk_and_a_second_writer(root):
    cases = [Case("mmt-jax", ["decode", name, f"o_{name}.mid"], expect=e) for name, e in CODES]
    cases += [Case("mmt-jax", ["encode", name, f"o_{name}.npy"], expect=name) for name in MUSIC]
    cases += [
        Case(
            "mmt-jax",
            [
                "generate",
                "--checkpoint",
                "run",
                "--out",
                "g",
                "--mode",
                "continuation",
                "--prompt",
                "corrupt.mid",
            ],
            expect="corrupt.mid",
        ),
        # nothing usable: a non-zero exit, never a silent "0 pieces" success
        Case(
            "mmt-jax",
            ["prepare", "--input", "corrupt_in", "--out", "p0", "--workers", "1", "--quiet"],
            expect="no piece",
            changes=("p0",),
        ),
        # a full disk (8 kB file-size limit): one line, status 74, the earlier output intact
        Case("mmt-jax", ["decode", "big.npy", "old.csv"], expect="file too large", fsize=8192, status=74),
        Case("mmt-jax", ["decode", "big.npy", "old.mid"], expect="file too large", fsize=8192, status=74),
        Case("mmt-jax", ["encode", "songs/song0.mid", "full.csv"], expect="file too large", fsize=200),
        Case(
            "mmt-jax",
            [
                "prepare",
                "--input",
                "songs",
                "--out",
                "p_full",
                "--workers",
                "1",
                "--min-notes",
                "1",
                "--quiet",
            ],
            expect="file too large",
            fsize=600,
            changes=("p_full",),
        ),
    ]
    fd = os.open(root / "locked" / ".lock", os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)  # another prepare is writing into "locked"
    try:
        cases.append(
            Case(
                "mmt-jax",
                ["prepare", "--input", "songs", "--out", "locked", "--quiet"],
                expect="writing here",
            )
        )
        results, unexpected = run_cases(root, cases)
    finally:
        os.close(fd)
    assert_clean(results, unexpected)
    assert not list(root.glob("o_*")) and not (root / "full.csv").exists()
    # what the full disk left behind is whole: every array there loads
    for npy in (root / "p_full").rglob("*.npy"):
        np.load(npy)
    assert not list((root / "p_full").rglob("*.tmp*"))


def test_a_good_run_still_works_and_a_rerun_overwrites_only_its_own_output(root):
    before = tree_hash(root / "songs")
    proc = run_one(
        root,
        Case(
            "mmt-jax",
            ["prepare", "--input", "songs", "--out", "p_ok", "--min-notes", "1", "--workers", "1", "--quiet"],
            fails=False,
        ),
    )
    assert proc.returncode == 0, proc.stderr
    assert tree_hash(root / "songs") == before
    assert len(list((root / "p_ok" / "notes").rglob("*.npy"))) == 3

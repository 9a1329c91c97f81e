"""Unusable paths through every command of every system: a one-line error and a non-zero exit
within a second (before JAX loads), and every file already there byte-identical afterwards."""

import os

import numpy as np
import pytest
from bad_input import Case, assert_clean, run_cases


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    root = tmp_path_factory.mktemp("paths")
    np.save(root / "codes.npy", np.array([[0, 0, 0, 0, 0, 0], [3, 1, 1, 61, 5, 1], [4, 0, 0, 0, 0, 0]]))
    np.save(root / "notes.npy", np.array([[0, 0, 60, 12, 0]]))
    (root / "song.mid").write_bytes(b"MThd\x00\x00\x00\x06\x00\x01\x00\x01\x00\x60")
    (root / "afile").write_text("a file, not a folder\n")
    (root / "phrases.npz").write_bytes(b"PK\x05\x06" + bytes(18))
    for folder in ("adir.mid", "adir", "run", "in", "photos", "a", "b", "samples"):
        (root / folder).mkdir()
    (root / "samples" / "continuation-001.mid").write_bytes((root / "song.mid").read_bytes())
    for image in ("photos/frame.png", "a/x.png", "b/x.png"):
        (root / image).write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(16))
    return root


MMT = [
    (["decode", "missing.npy", "o.mid"], "no such file"),
    (["decode", "codes.npy", "codes.npy"], "overwrite the input"),
    (["decode", "codes.npy", "o.txt"], "must end in"),
    (["decode", "codes.npy", "afile/o.mid"], "not a folder"),
    (["decode", "codes.npy", "adir.mid"], "is a folder"),
    (["encode", "notes.npy", "notes.npy"], "overwrite the input"),
    (["encode", "notes.npy", "c.npy", "--max-beat", "0"], "--max-beat"),
    (["prepare", "--input", "missing", "--out", "p"], "input folder not found"),
    (["prepare", "--input", "in", "--out", "afile"], "not a folder"),
    (["prepare", "--input", "in", "--out", "p", "--limit", "-1"], "--limit"),
    (["generate", "--checkpoint", "missing", "--out", "g"], "no such run folder"),
    (["generate", "--checkpoint", "run", "--out", "g", "--temperature", "nan"], "finite"),
    (["generate", "--checkpoint", "run", "--out", "g", "--num-samples", "0"], "--num-samples"),
    (["generate", "--checkpoint", "run", "--out", "g", "--batch-size", "-2"], "--batch-size"),
    (
        ["generate", "--checkpoint", "run", "--out", "g", "--mode", "continuation", "--prompt", "no.mid"],
        "no such",
    ),
    (["generate", "--checkpoint", "run", "--out", "run"], "is also the input"),
    (
        [
            "generate",
            "--checkpoint",
            "run",
            "--mode",
            "continuation",
            "--prompt",
            "samples/continuation-001.mid",
        ]
        + ["--out", "samples"],
        "would overwrite the input",
    ),
    (["evaluate", "--checkpoint", "run", "--data", "missing"], "input folder not found"),
    (["speed-test", "--checkpoint", "run", "--json", "adir"], "is a folder"),
    (["speed-test", "--checkpoint", "run", "--temperature", "inf"], "--temperature"),
    (["attention", "--checkpoint", "run", "--data", "in", "--out", "afile"], "not a folder"),
    (["convert-reference", "--checkpoint", "missing.pt", "--out", "c"], "no such file"),
    (["train", "--config", "missing.py"], "no such file"),
    (["decode"], "required"),  # usage errors are one line too
    (["generate", "--checkpoint", "run", "--out", "g", "--num-samples", "many"], "invalid int"),
    (["no-such-command"], "invalid choice"),
]
ARRANGER = [
    (["instrument", "--checkpoint", "run", "song.mid", "--out", "afile"], "not a folder"),
    (["instrument", "--checkpoint", "missing", "song.mid"], "no such run folder"),
    (["instrument", "--checkpoint", "run", "missing.mid"], "no such file"),
    (["prepare", "nes", "--input", "missing", "--out", "p"], "input folder not found"),
    (["prepare", "bach", "--out", "p", "--limit", "0"], "--limit"),
    (["baseline", "--data", "missing"], "input folder not found"),
    (["evaluate", "--data", "missing"], "input folder not found"),
    (
        ["convert-reference", "--checkpoint", "missing.hdf5", "--name", "lstm/default", "--out", "c"],
        "no such",
    ),
    (["train", "--config", "afile.py"], "no such file"),
]
CLIPSONIC = [
    (["generate", "--checkpoint", "run", "--image", "photos/frame.png", "--out", "photos"], "overwrite"),
    (["generate", "--checkpoint", "run", "--image", "a/x.png", "b/x.png", "--out", "o"], "both"),
    (["generate", "--checkpoint", "run", "--text", "a cat!", "a cat?", "--out", "o"], "both"),
    (["generate", "--checkpoint", "run", "--image", "missing.png", "--out", "o"], "no such file"),
    (["generate", "--checkpoint", "run", "--text", "x", "--out", "o", "--steps", "0"], "--steps"),
    (["generate", "--checkpoint", "afile", "--text", "x"], "is a file"),
    (["make-synthetic", "--out", "afile"], "not a folder"),
    (["make-synthetic", "--out", "s", "--clips", "0"], "--clips"),
    (["make-tiny-clip", "--out", "afile/clip"], "is a file"),
    (["import-prior", "--dalle2", "missing.pth", "--clip", "run", "--out", "ip"], "no such file"),
    (["modality-gap", "--data", "missing"], "input folder not found"),
    (["evaluate", "--checkpoint", "missing"], "no such run folder"),
]
MUSEGAN = [
    (["prepare", "--input", "missing", "--out", "x.npz"], "no such file or folder"),
    (["prepare", "--input", "phrases.npz", "--out", "phrases.npz"], "overwrite the input"),
    (["prepare", "--input", "in", "--out", "afile/x.npz"], "not a folder"),
    (["prepare", "--input", "in", "--out", "x.npz", "--bars", "0"], "--bars"),
    (["generate", "--checkpoint", "missing"], "no such run folder"),
    (["generate", "--checkpoint", "run", "--out", "g", "--num", "0"], "--num"),
    (["generate", "--checkpoint", "run", "--out", "g", "--qpm", "nan"], "--qpm"),
    (["evaluate", "--data", "missing.npz"], "no such file"),
    (["evaluate", "--checkpoint", "run", "--json", "adir"], "is a folder"),
    (["train", "--config", "missing.py"], "no such file"),
]
CREATED = ("p", "g", "o", "c", "s", "ip", "x.npz")  # what the cases would write, had they run


def check_refused(root, cases):
    results, unexpected = run_cases(root, cases)
    assert_clean(results, unexpected)
    for r in results:  # all refused by the validation layer: the right status, nothing created
        assert r.returncode == 2, (r.case.args, r.returncode, r.stderr)
    assert not any((root / name).exists() for name in CREATED)


def test_unusable_paths_fail_in_one_line_and_touch_nothing_mmt_arranger(root):
    """(CLIPSonic and MuseGAN: tests/test_bad_input_paths_more.py, so each file stays short.)"""
    check_refused(
        root,
        [Case("mmt-jax", a, expect=e) for a, e in MMT]
        + [Case("arranger-jax", a, expect=e) for a, e in ARRANGER],
    )


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write into read-only folders")
def test_read_only_folder_is_refused_before_work(root):
    ro = root / "readonly"
    ro.mkdir(exist_ok=True)
    os.chmod(ro, 0o555)
    try:
        cases = [
            Case("mmt-jax", ["decode", "codes.npy", "readonly/o.mid"], expect="permission denied"),
            Case(
                "musegan-jax", ["prepare", "--input", "in", "--out", "readonly/x.npz"], expect="not writable"
            ),
        ]
        results, unexpected = run_cases(root, cases)
        assert_clean(results, unexpected)
    finally:
        os.chmod(ro, 0o755)


@pytest.mark.parametrize(
    "name, status, text",
    [
        ("ENOSPC", 74, "no space left"),
        ("EFBIG", 74, "file too large"),
        ("EACCES", 74, "permission denied"),
        ("EROFS", 74, "read-only file system"),
        ("EDQUOT", 74, "quota"),
        ("ENOENT", 2, "no such file"),
    ],
)
def test_os_errors_from_anywhere_become_one_line(name, status, text, capsys):
    """What a library deep down raises (here a stand-in command): one line and its status.
    (Run in-process: as root, permission and read-only errors cannot be provoked for real.)"""
    from train_kit.cli import run_cli

    assert run_cli("x-jax", "", {"fail": "bad_input"}, ["fail", name]) == status
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("x-jax: error: /data/out/file.npy: ") and text in err

"""Damaged run folders given to the inference commands, and torn metric logs: one line and
exit 2, the folders byte-identical afterwards."""

import json

import pytest
from bad_input import Case, assert_clean, run_cases

from train_kit.metric_log import MetricLogger, read_metrics


def _run_json(folder, **info):
    folder.mkdir()
    (folder / "run.json").write_text(json.dumps({"format": 1, "config": {}, **info}))


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    root = tmp_path_factory.mktemp("checkpoints")
    (root / "junk").mkdir()
    (root / "junk" / "run.json").write_text('{"format": 1, "system": "mm')  # torn
    _run_json(root / "mmt_run", system="mmt")
    _run_json(root / "newer", system="musegan", format=99)
    _run_json(root / "no_params", system="arranger")
    _run_json(root / "bad_params", system="clipsonic")
    (root / "bad_params" / "params").mkdir()
    (root / "bad_params" / "params" / "_METADATA").write_bytes(b"\x00garbage")
    (root / "legacy").mkdir()
    (root / "legacy" / "train-config.json").write_text("{}")
    (root / "song.mid").write_bytes(b"MThd\x00\x00\x00\x06\x00\x01\x00\x01\x00\x60")
    return root


CASES = [
    Case("mmt-jax", ["generate", "--checkpoint", "junk", "--out", "g1"], expect="unreadable"),
    Case(
        "mmt-jax", ["evaluate", "--checkpoint", "legacy", "--data", "junk", "--out", "e"], expect="old format"
    ),
    Case("musegan-jax", ["generate", "--checkpoint", "mmt_run", "--out", "g2"], expect="not a musegan"),
    Case("musegan-jax", ["generate", "--checkpoint", "newer", "--out", "g3"], expect="newer"),
    Case(
        "arranger-jax",
        ["instrument", "--checkpoint", "no_params", "song.mid", "--out", "g4"],
        expect="no params",
    ),
    Case(
        "clipsonic-jax",
        ["generate", "--checkpoint", "bad_params", "--text", "x", "--out", "g5"],
        expect="params",
    ),
]


def test_damaged_run_folders(root):
    results, unexpected = run_cases(root, CASES)
    assert_clean(results, unexpected)
    assert all(r.returncode == 2 for r in results), [(r.case.args, r.returncode) for r in results]


def test_a_torn_metrics_tail_is_dropped_and_never_ends_up_mid_file(tmp_path):
    log = MetricLogger(tmp_path)
    for step in (1, 2, 3):
        log.write(step, {"loss": 1.0 / step})
    log.close()
    with open(tmp_path / "metrics.jsonl", "a") as f:
        f.write('{"step": 4, "split": "tr')  # a kill (or a full disk) mid-line
    assert [r["step"] for r in read_metrics(tmp_path)] == [1, 2, 3]
    for resume in (None, 2):  # a restart without a checkpoint, and a resume from step 2
        log = MetricLogger(tmp_path, resume_step=resume)
        log.write(5, {"loss": 0.5})
        log.close()
    lines = (tmp_path / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["step"] for line in lines] == [1, 2, 5]  # every line whole


def test_an_export_on_a_full_disk_leaves_the_previous_one(tmp_path):
    """`convert-reference` into a run folder: a second export that hits a full disk fails in
    one line (status 74, no orbax tracebacks) and the first params/ and run.json stay whole."""
    import numpy as np
    from bad_input import run_one, tree_hash
    from test_mmt_convert import reference_state_dict

    np.savez(tmp_path / "small.npz", **reference_state_dict(np.random.default_rng(0), depth=1))
    np.savez(
        tmp_path / "big.npz",
        **reference_state_dict(np.random.default_rng(1), dim=128, inner=128, ff=256, depth=1),
    )
    first = Case(
        "mmt-jax", ["convert-reference", "--checkpoint", "small.npz", "--out", "run", "--heads", "4"]
    )
    proc = run_one(tmp_path, first)
    assert proc.returncode == 0, proc.stderr[-2000:]
    before = tree_hash(tmp_path / "run")
    again = Case(
        "mmt-jax",
        ["convert-reference", "--checkpoint", "big.npz", "--out", "run", "--heads", "4"],
        expect="file too large",
        fsize=64_000,
        status=74,
        changes=("run",),
    )
    results, unexpected = run_cases(tmp_path, [again])
    assert_clean(results, unexpected)
    after = tree_hash(tmp_path / "run")
    assert {k: v for k, v in after.items() if k.startswith(("params/", "run.json"))} == before

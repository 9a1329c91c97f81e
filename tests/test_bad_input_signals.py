"""A SIGTERM-preempted run exits with its own status (75), without a traceback, after saving a
checkpoint: through the real `arranger-jax train`. (Resuming past a torn metrics.jsonl line is
tests/test_bad_input_checkpoints.py; resuming itself, bit-exactly, is test_train_kit_fit.py.)"""

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from bad_input import _children_cpu, command, env, tree_hash

from train_kit.cli import EXIT_PREEMPTED

sys.path.insert(0, str(Path(__file__).resolve().parent))
import arranger_tiny  # noqa: E402

CONFIG = str(Path(__file__).resolve().parents[1] / "configs" / "arranger" / "tiny.py")


def _train(tmp_path, *overrides):
    args = ["train", "--config", CONFIG, "--data", "data", "--out", "run", "train.log_every=1"]
    return command("arranger-jax") + args + list(overrides)


def test_sigterm_exits_75_after_saving_a_checkpoint(tmp_path):
    arranger_tiny.make_dataset(tmp_path / "data")
    data_before = tree_hash(tmp_path / "data")
    cpu = _children_cpu()
    proc = subprocess.Popen(
        _train(tmp_path, "train.max_steps=100000"),
        cwd=tmp_path,
        env=env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    metrics = tmp_path / "run" / "metrics.jsonl"
    deadline = time.monotonic() + 300
    while not (metrics.exists() and metrics.read_text().count("\n") >= 1):
        assert proc.poll() is None, proc.communicate()
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail("training did not start within 300 s")
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == EXIT_PREEMPTED, (proc.returncode, err[-2000:])
    assert "Traceback" not in err and "preempted" in out
    saved = sorted(int(p.name) for p in (tmp_path / "run" / "checkpoints").iterdir() if p.name.isdigit())
    assert saved, "no checkpoint saved on SIGTERM"
    assert tree_hash(tmp_path / "data") == data_before
    print(f"1 training: {_children_cpu() - cpu:.1f} s CPU in the subprocesses")

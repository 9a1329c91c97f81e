"""The fit loop: exact resume after SIGKILL, SIGTERM, NaN stop, early stopping, checkpoint errors."""

import os
import signal
import subprocess
import sys
import time

import jax
import numpy as np
import pytest

from train_kit import data, fit, optim, sharding, step, toy
from train_kit import mesh as tk_mesh
from train_kit.checkpoint import Checkpointer, CheckpointError
from train_kit.config import ConfigError, MeshConfig, OptimConfig, TrainConfig
from train_kit.metric_log import read_metrics

# The child must compile exactly like this test process (see tests/conftest.py).
CHILD = """
import jax, sys
jax.config.update("jax_platforms", "cpu")
jax.config.update("jax_num_cpu_devices", 8)
jax.config.update("jax_disable_most_optimizations", True)
from train_kit.toy import run_toy_training
run_toy_training(sys.argv[1], max_steps=12, step_delay=0.4)
"""


def _train_losses(out_dir):
    return {r["step"]: r["loss"] for r in read_metrics(out_dir) if r["split"] == "train"}


def _committed_steps(ckpt_dir):
    return sorted(int(n) for n in os.listdir(ckpt_dir) if n.isdigit()) if os.path.isdir(ckpt_dir) else []


def test_resume_after_sigkill_gives_the_uninterrupted_losses(tmp_path):
    killed = tmp_path / "killed"
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=8", "JAX_PLATFORMS": "cpu"}
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(killed)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.time() + 120
        while not _committed_steps(killed / "checkpoints") and time.time() < deadline:
            assert child.poll() is None, "the training child died before its first checkpoint"
            time.sleep(0.05)
        child.send_signal(signal.SIGKILL)
        child.wait(30)
    finally:
        if child.poll() is None:
            child.kill()
    saved = _committed_steps(killed / "checkpoints")
    assert saved and saved[-1] < 12, "the child was not killed mid-run"
    assert child.returncode == -signal.SIGKILL

    resumed = toy.run_toy_training(killed, max_steps=12)
    assert resumed.resumed_from == saved[-1] and resumed.status == "finished"
    reference = toy.run_toy_training(tmp_path / "reference", max_steps=12)
    assert reference.resumed_from is None

    ref, got = _train_losses(tmp_path / "reference"), _train_losses(killed)
    assert sorted(got) == list(range(1, 13))  # the log reads as one run: no duplicate steps
    after = [s for s in range(1, 13) if s > saved[-1]]
    assert [got[s] for s in after] == [ref[s] for s in after]  # bit-exact, dropout included
    jax.tree.map(
        lambda a, b: np.testing.assert_array_equal(np.asarray(a), np.asarray(b)),
        resumed.state.params,
        reference.state.params,
    )


def _mlp_setup(arrays, optim_cfg=OptimConfig(lr=1e-2)):
    model = toy.ToyMLP(features=8, hidden=16)
    tx, _ = optim.make_optimizer(optim_cfg)
    mesh = tk_mesh.make_mesh(MeshConfig(4, 2, 1))
    state, sh = sharding.create_train_state(lambda r: model.init(r, arrays["x"][:4])["params"], tx, mesh)
    train = step.make_train_step(toy.mlp_loss(model), tx, sh, tk_mesh.batch_sharding(mesh))
    evaluate = step.make_eval_step(
        lambda p, b: {"loss": b["v"].mean()}, sh.params, tk_mesh.batch_sharding(mesh)
    )
    return state, train, evaluate, mesh


def _mlp_run(out_dir, arrays, cfg, eval_data=None, hooks=(), epochs=None):
    state, train, evaluate, mesh = _mlp_setup(arrays)
    cfg = TrainConfig(**{"out_dir": str(out_dir), "log_every": 1, **cfg})
    train_iter = data.ArrayIterator(arrays, 8, shuffle=False, num_epochs=epochs)
    return fit.fit(
        state, train, train_iter, cfg, mesh=mesh, eval_step=evaluate, eval_data=eval_data, hooks=hooks
    )


def test_nan_loss_stops_without_touching_the_last_good_checkpoint(tmp_path):
    arrays = toy.random_regression(64, 8)
    arrays["x"][32:40] = np.nan  # the 5th batch
    with pytest.raises(fit.NonFiniteLossError) as info:
        _mlp_run(tmp_path, arrays, dict(max_steps=20, ckpt_every=3, log_every=3))
    message = str(info.value)
    assert "nan" in message and "at step 5" in message and "last good checkpoint: step 3" in message
    assert "\n" not in message
    ckpt = Checkpointer(tmp_path / "checkpoints")
    assert ckpt.all_steps() == [3]  # the step-6 save never happened
    assert max(r["step"] for r in read_metrics(tmp_path)) == 3
    restored, data_state, _ = ckpt.restore(_mlp_setup(arrays)[0])
    ckpt.close()
    assert int(restored.step) == 3 and data_state == {"epoch": 0, "position": 24}
    assert all(np.isfinite(np.asarray(x)).all() for x in jax.tree.leaves(restored.params))


def test_early_stopping_with_patience_keeps_the_best_checkpoint(tmp_path):
    values = iter([3.0, 1.0, 2.0, 2.5, 0.5, 0.1])  # eval metric per evaluation
    eval_data = lambda: [{"v": np.full((8,), next(values), np.float32)}]  # noqa: E731
    cfg = dict(max_steps=50, eval_every=2, keep_best_metric="eval_loss", patience=2, keep_last=1)
    arrays = toy.random_regression(64, 8)
    result = _mlp_run(tmp_path, arrays, cfg, eval_data=eval_data)
    assert (result.status, result.step, result.best_step, result.best_metric) == ("early_stopped", 8, 4, 1.0)
    assert Checkpointer(tmp_path / "checkpoints").all_steps() == [4, 8]  # the best and the last
    evals = [(r["step"], r["eval_loss"]) for r in read_metrics(tmp_path) if r["split"] == "eval"]
    assert evals == [(2, 3.0), (4, 1.0), (6, 2.0), (8, 2.5)]
    assert any(n.startswith("events.out.tfevents") for n in os.listdir(tmp_path / "tb"))
    again = _mlp_run(tmp_path, arrays, cfg, eval_data=eval_data)  # a finished run stays finished
    assert (again.status, again.step, again.resumed_from) == ("early_stopped", 8, 8)


def test_unknown_best_metric_is_a_config_error(tmp_path):
    cfg = dict(max_steps=4, eval_every=2, keep_best_metric="val_loss")
    eval_data = lambda: [{"v": np.zeros(8, np.float32)}]  # noqa: E731
    with pytest.raises(ConfigError, match="'val_loss' is not an eval metric; have: eval_loss"):
        _mlp_run(tmp_path, toy.random_regression(64, 8), cfg, eval_data=eval_data)


def test_sigterm_saves_and_exits_then_resumes(tmp_path):
    def preempt(step_, state, metrics):
        if step_ == 3:
            os.kill(os.getpid(), signal.SIGTERM)

    arrays = toy.random_regression(64, 8)
    first = _mlp_run(tmp_path, arrays, dict(max_steps=6), hooks=[preempt])
    assert (first.status, first.step) == ("preempted", 4)  # the flag is seen after step 4 ran
    assert Checkpointer(tmp_path / "checkpoints").latest_step() == 4
    second = _mlp_run(tmp_path, arrays, dict(max_steps=6))
    assert (second.status, second.step, second.resumed_from) == ("finished", 6, 4)


def test_a_finite_data_stream_ends_the_run_with_a_checkpoint(tmp_path):
    result = _mlp_run(tmp_path, toy.random_regression(64, 8), dict(max_steps=50, ckpt_every=3), epochs=1)
    assert (result.status, result.step) == ("data_exhausted", 8)
    assert Checkpointer(tmp_path / "checkpoints").all_steps() == [3, 6, 8]


def test_checkpoint_errors_are_one_line_user_errors(tmp_path):
    with pytest.raises(CheckpointError, match="no checkpoint directory"):
        Checkpointer(tmp_path / "missing", create=False)
    ckpt = Checkpointer(tmp_path / "ck")
    state = {"w": jax.numpy.ones((4, 2))}
    with pytest.raises(CheckpointError, match="no checkpoint found"):
        ckpt.restore(state)
    ckpt.save(1, state, data_state={"position": 8})
    with pytest.raises(CheckpointError, match="no checkpoint for step 7"):
        ckpt.restore(state, step=7)
    with pytest.raises(CheckpointError, match="does not match the model") as info:
        ckpt.restore({"w": jax.numpy.ones((4, 2)), "b": jax.numpy.ones(3)})
    assert "\n" not in str(info.value)
    restored, data_state, _ = ckpt.restore(state)
    assert data_state == {"position": 8}
    np.testing.assert_array_equal(np.asarray(restored["w"]), np.ones((4, 2)))
    ckpt.close()


def test_a_torn_last_log_line_does_not_block_resume(tmp_path):
    from train_kit.metric_log import read_metrics

    toy.run_toy_training(tmp_path, max_steps=4, ckpt_every=4, async_checkpoints=False)
    with open(tmp_path / "metrics.jsonl", "a") as f:
        f.write('{"step": 5, "split": "tr')  # killed mid-write
    assert [r["step"] for r in read_metrics(tmp_path)] == [1, 2, 3, 4]
    result = toy.run_toy_training(tmp_path, max_steps=6, ckpt_every=4, async_checkpoints=False)
    assert result.resumed_from == 4 and result.step == 6
    assert [r["step"] for r in read_metrics(tmp_path)] == [1, 2, 3, 4, 5, 6]

"""CLIPSonic through the one driver: the exported run holds the best checkpoint's parameters (not
the last), loads back through clipsonic_jax.load with the same values, and an fsdp x tensor mesh
really splits the U-Net's kernels; a folder that is not a CLIPSonic run is a one-line error."""

import json
import os
import shutil
import subprocess
import sys

import jax
import numpy as np
import pytest
from clipsonic_tiny import tiny_training

from clipsonic_jax import cli
from clipsonic_jax.load import load
from clipsonic_jax.train import train
from train_kit.checkpoint import Checkpointer
from train_kit.config import load_config
from train_kit.run import RunError, save_run

# 4 training and 4 held-out clips; a learning rate high enough that the eval loss gets worse
# after its best, so "best" and "last" differ.
BEST = [
    "data.eval_every_nth=2",
    "data.batch_size=4",
    "mesh.data=2",
    "mesh.fsdp=2",
    "mesh.tensor=2",
    "train.max_steps=4",
    "train.eval_every=1",
    "train.keep_best_metric=eval_loss",
    "train.keep_last=1",
    "optim.lr=0.05",
    "optim.decay=constant",
]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("clipsonic_train")
    path, overrides = tiny_training(tmp)
    cfg = load_config(path, overrides + BEST)
    return cfg, train(cfg, progress=False)


def _same(a, b):
    jax.tree.map(lambda x, y: np.testing.assert_array_equal(np.asarray(x), np.asarray(y)), a, b)


def _differ(a, b):
    return any(
        not np.array_equal(np.asarray(x), np.asarray(y))
        for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b))
    )


def test_export_is_the_best_checkpoint_and_loads_back(trained):
    cfg, result = trained
    run_dir = cfg.train.out_dir
    evals = [json.loads(line) for line in open(f"{run_dir}/metrics.jsonl") if '"eval_loss"' in line]
    losses = {row["step"]: row["eval_loss"] for row in evals}
    assert sorted(losses) == [1, 2, 3, 4]
    best = min(losses, key=losses.get)
    assert result.best_step == best and best < result.step == 4  # best is not the last here
    info = json.load(open(f"{run_dir}/run.json"))
    assert info["system"] == "clipsonic" and info["step"] == best
    assert info["metrics"]["best_eval_loss"] == pytest.approx(losses[best])
    assert info["config"]["data"]["path"].endswith("videos") and info["config"]["unet"]["cond_dim"] == 64
    assert len(info["cond_mean"]) == 64 and info["cond_scale"] > 0
    assert info["mel_stats"]["high"] > info["mel_stats"]["low"]
    ckpt = Checkpointer(f"{run_dir}/checkpoints", create=False, best_metric="eval_loss")
    try:
        best_params = ckpt.restore(target=result.fit.state, step=best)[0].params
    finally:
        ckpt.close()
    model = load(run_dir)
    assert model.step == best and model.cfg == result.config
    _same(model.params, best_params)
    _same(model.params, result.params)
    assert _differ(model.params, result.fit.state.params)  # the last state was not exported
    out = model.generate(np.eye(64, dtype=np.float32)[:2], steps=2)
    assert out.shape == (2, 32, 64) and np.all(np.isfinite(out))


def test_fsdp_and_tensor_split_the_kernels(trained):
    _, result = trained
    k = result.fit.state.params["up_0_0"]["conv1"]["kernel"]  # [3, 3, in 16, out 8]
    assert k.sharding.spec[2:] == ("fsdp", "tensor")
    assert k.addressable_shards[0].data.shape == (3, 3, k.shape[2] // 2, k.shape[3] // 2)


def test_not_a_clipsonic_run_is_one_line(trained, tmp_path, capsys):
    cfg, result = trained
    run_dir = cfg.train.out_dir
    with pytest.raises(RunError, match="no such run folder"):
        load(tmp_path / "nope")
    old = tmp_path / "old"
    old.mkdir()
    (old / "clipsonic.json").write_text("{}")
    (old / "model.msgpack").write_bytes(b"")
    with pytest.raises(RunError, match="old format.*clipsonic-jax train"):
        load(old)
    other = tmp_path / "other"
    save_run(other, system="mmt", config=result.config, params={"w": np.zeros(2, np.float32)})
    with pytest.raises(RunError, match="a mmt run, not a clipsonic one"):
        load(other)
    bare = tmp_path / "bare"
    bare.mkdir()
    shutil.copy(f"{run_dir}/run.json", bare / "run.json")
    with pytest.raises(RunError, match="no params/"):
        load(bare)
    wrong = tmp_path / "wrong"
    save_run(
        wrong,
        system="clipsonic",
        config=result.config,
        params={"w": np.zeros(2, np.float32)},
        **{
            k: json.load(open(f"{run_dir}/run.json"))[k]
            for k in ("mel_stats", "cond_mean", "cond_scale", "clip_dir")
        },
    )
    with pytest.raises(RunError, match="is missing; the run does not fit"):
        load(wrong)
    no_extras = tmp_path / "no_extras"
    save_run(no_extras, system="clipsonic", config=result.config, params=result.params)
    with pytest.raises(RunError, match="lacks mel_stats"):
        load(no_extras)
    capsys.readouterr()
    for folder in (old, other, bare, wrong):
        with pytest.raises(SystemExit) as e:
            cli.main(["generate", "--checkpoint", str(folder), "--text", "x", "--out", str(tmp_path)])
        assert e.value.code == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith("clipsonic-jax: error:")


def test_inference_imports_no_training_module(trained):
    cfg, _ = trained
    training = (
        "clipsonic_jax.train",
        "train_kit.fit",
        "train_kit.step",
        "train_kit.driver",
        "train_kit.checkpoint",
    )
    code = (
        "import sys, numpy as np; from clipsonic_jax.load import load; "
        f"m = load({cfg.train.out_dir!r}); m.generate(np.eye(64, dtype=np.float32)[:1], steps=1); "
        f"bad = [n for n in {training!r} if n in sys.modules]; assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True, env={**os.environ, "JAX_PLATFORMS": "cpu"})

"""The one driver: fixed order, best checkpoint exported as a run folder, sharding honoured."""

import dataclasses
import json

import flax.linen as nn
import jax
import numpy as np
import pytest

from train_kit import driver, toy
from train_kit import run as tk_run
from train_kit.config import ConfigError, MeshConfig, from_dict
from train_kit.metric_log import read_metrics


def _cfg(out_dir, **train):
    cfg = toy.ToyConfig()
    return dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, out_dir=str(out_dir), **train))


def test_exports_the_best_checkpoint_not_the_last(tmp_path):
    # A learning rate this large makes the loss climb again, so the best eval is not the last.
    cfg = _cfg(tmp_path / "run", max_steps=12, eval_every=2, keep_last=1)
    cfg = dataclasses.replace(
        cfg, optim=dataclasses.replace(cfg.optim, lr=0.3, clip_norm=0.0, warmup_steps=0, decay="constant")
    )
    result = driver.train(toy.ToyTask(), cfg, progress=False)
    evals = [r for r in read_metrics(tmp_path / "run") if r["split"] == "eval"]
    best = min(evals, key=lambda r: r["eval_loss"])
    assert best["step"] != 12, "this setting was meant to overshoot; pick another"
    assert result.best_step == best["step"]
    loaded = tk_run.load_run(tmp_path / "run", system="toy")
    assert loaded.step == best["step"] and loaded.info["final_step"] == 12
    assert loaded.metrics["best_eval_loss"] == pytest.approx(best["eval_loss"])
    assert from_dict(toy.ToyConfig, loaded.config) == cfg
    last = jax.device_get(result.fit.state.params)
    jax.tree.map(np.testing.assert_array_equal, loaded.params, result.params)
    assert any(
        not np.array_equal(a, b) for a, b in zip(jax.tree.leaves(loaded.params), jax.tree.leaves(last))
    )
    assert set(loaded.info["versions"]) >= {"jax", "flax", "python"}


def test_setup_runs_after_init_and_may_derive_config(tmp_path):
    calls = []

    class Wider(toy.ToyTask):
        def setup(self, cfg):
            calls.append(jax.distributed.is_initialized())
            cfg, data = super().setup(cfg)
            return dataclasses.replace(cfg, embed=8), data  # a value derived from the data

    result = driver.train(
        Wider(), _cfg(tmp_path / "run", max_steps=2, eval_every=0, keep_best_metric=""), progress=False
    )
    assert calls == [False] and result.config.embed == 8
    assert json.loads((tmp_path / "run" / "run.json").read_text())["config"]["embed"] == 8
    assert result.params["embed"]["embedding"].shape == (16, 8)


def test_batch_must_split_over_data_parallel_devices(tmp_path):
    cfg = dataclasses.replace(_cfg(tmp_path / "run"), data=toy.ToyDataConfig(batch_size=6))
    with pytest.raises(ConfigError, match=r"data.batch_size=6 must be a positive multiple of the 8"):
        driver.train(toy.ToyTask(), cfg, progress=False)
    assert not (tmp_path / "run").exists()


class Unnamed(nn.Module):
    @nn.compact
    def __call__(self, tokens, deterministic=True):
        return nn.Dense(16)(nn.Embed(16, 8)(tokens))


def test_fsdp_refuses_parameters_without_logical_names(tmp_path):
    class Task(toy.ToyTask):
        def model(self, cfg):
            return Unnamed()

    cfg = dataclasses.replace(_cfg(tmp_path / "run", max_steps=1), mesh=MeshConfig(fsdp=2))
    with pytest.raises(ConfigError, match=r"needs logical axis names on every parameter, but 3 have none"):
        driver.train(Task(), cfg, progress=False)
    # without fsdp/tensor the same model trains (replicated is then what was asked for)
    cfg = dataclasses.replace(
        cfg, mesh=MeshConfig(), train=dataclasses.replace(cfg.train, eval_every=0, keep_best_metric="")
    )
    assert driver.train(Task(), cfg, progress=False).step == 1


def test_rules_from_the_config_decide_the_layout(tmp_path):
    cfg = dataclasses.replace(
        _cfg(tmp_path / "run", max_steps=1, eval_every=0, keep_best_metric=""),
        mesh=MeshConfig(data=4, fsdp=2),
    )
    state = driver.train(toy.ToyTask(), cfg, progress=False).fit.state
    assert state.params["block0"]["up"]["kernel"].sharding.spec[0] == "fsdp"
    swapped = tuple((n, None) if n == "embed" else (n, a) for n, a in cfg.mesh.rules)
    cfg = dataclasses.replace(
        cfg,
        mesh=dataclasses.replace(cfg.mesh, rules=swapped),
        train=dataclasses.replace(cfg.train, out_dir=str(tmp_path / "other")),
    )
    state = driver.train(toy.ToyTask(), cfg, progress=False).fit.state
    assert state.params["block0"]["up"]["kernel"].sharding.spec[0] is None

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


# --------------------------------------------------------------------------- several optimisers


class _TwoGroups(toy.ToyTask):
    """Group "b" is updated k times per step (each on its own batch), then group "a" once;
    a counter in `extra` checks that non-trained variables thread through every update."""

    system = "toy_groups"

    def __init__(self, counts=(2, 1)):
        self.counts = counts

    def model(self, cfg):
        return toy.ToyMLP(features=4, hidden=8)

    def example_batch(self, cfg, data, rows):
        return {"a": {"x": data["x"][:rows, None]}, "b": {"x": data["x"][:rows, None]}}

    def setup(self, cfg):
        return cfg, toy.random_regression(64, 4, seed=0)

    def init_params(self, model, batch, rng):
        x = batch["a"]["x"][:, 0]
        ka, kb = jax.random.split(rng)
        params = {"a": model.init(ka, x)["params"], "b": model.init(kb, x)["params"]}
        return params, {"count": np.zeros((), np.int32)}

    def optimizers(self, cfg):
        return {"a": cfg.optim, "b": dataclasses.replace(cfg.optim, lr=2 * cfg.optim.lr)}

    def updates(self, model, cfg):
        from train_kit.step import Update

        return [
            Update("b_step", "b", _b_loss(model), batch_key="b", repeat=True),
            Update("a_step", "a", _a_loss(model), batch_key="a", repeat=True),
        ]

    def pipelines(self, cfg, data, rows, process_index, process_count):
        from train_kit.data import ArrayIterator
        from train_kit.groups import ScheduledBatches

        source = ArrayIterator({"x": data["x"]}, cfg.data.batch_size, seed=0)
        return ScheduledBatches(source, {"b": self.counts[0], "a": self.counts[1]}), None

    def export_params(self, state):
        return {**state.params, "extra": state.extra}


def _b_loss(model):
    def loss_fn(params, extra, batch, rng):
        pa = model.apply({"params": params["a"]}, batch["x"])
        pb = model.apply({"params": params["b"]}, batch["x"])
        noise = jax.random.normal(rng, pb.shape)
        return jax.numpy.mean((pb - pa - 0.1 * noise) ** 2), ({}, {"count": extra["count"] + 1})

    return loss_fn


def _a_loss(model):
    def loss_fn(params, extra, batch, rng):
        pa = model.apply({"params": params["a"]}, batch["x"])
        pb = model.apply({"params": params["b"]}, batch["x"])
        return jax.numpy.mean((pa - 1.0 + 0.5 * pb) ** 2), {"mean_a": pa.mean()}

    return loss_fn


def _groups_cfg(out_dir, max_steps=3, **mesh):
    cfg = toy.ToyConfig()
    return dataclasses.replace(
        cfg,
        train=dataclasses.replace(
            cfg.train, out_dir=str(out_dir), max_steps=max_steps, eval_every=0, keep_best_metric=""
        ),
        mesh=MeshConfig(**mesh),
    )


def _by_hand(task, cfg, steps):
    """The group steps written out: fresh init, the same batches and keys, optax per update."""
    import optax

    from train_kit import optim

    _, data = task.setup(cfg)
    model = task.model(cfg)
    batches = task.pipelines(cfg, data, 8, 0, 1)[0]
    state0 = driver.train(task, _groups_cfg("", max_steps=0), progress=False).fit.state
    params = jax.device_get(state0.params)
    txs = {n: optim.make_optimizer(o)[0] for n, o in task.optimizers(cfg).items()}
    opt = {n: txs[n].init(params[n]) for n in params}
    count = 0
    for s in range(steps):
        batch = next(batches)
        rng = jax.random.fold_in(jax.random.wrap_key_data(state0.rng), s)
        for index, (group, loss) in enumerate([("b", _b_loss(model)), ("a", _a_loss(model))]):
            keys = jax.random.split(jax.random.fold_in(rng, index), batch[group]["x"].shape[1])
            for i in range(batch[group]["x"].shape[1]):
                sub = {"x": batch[group]["x"][:, i]}

                def f(p, group=group, sub=sub, key=keys[i], loss=loss):
                    return loss({**params, group: p}, {"count": count}, sub, key)[0]

                grads = jax.grad(f)(params[group])
                delta, opt[group] = txs[group].update(grads, opt[group], params[group])
                params = {**params, group: optax.apply_updates(params[group], delta)}
                count += group == "b"
    return params, count


def test_group_steps_equal_optax_by_hand_and_resume_exactly(tmp_path):
    # 3 b-updates (each on its own batch) then 1 a-update at step 0, 1 + 1 afterwards: the data
    # position depends on the step, which resume must restore. (Sharded group states: see
    # tests/test_musegan_train.py.)
    counts = (lambda s: 3 if s == 0 else 1, 1)
    whole = driver.train(_TwoGroups(counts), _groups_cfg(tmp_path / "whole", 3), progress=False)
    params, count = _by_hand(_TwoGroups(counts), _groups_cfg("", 3), 3)
    assert int(whole.params["extra"]["count"]) == count == 3 + 1 + 1
    for group in ("a", "b"):
        jax.tree.map(
            lambda x, y: np.testing.assert_allclose(x, y, rtol=2e-5, atol=1e-6),
            whole.params[group],
            params[group],
        )
    logged = read_metrics(tmp_path / "whole")[-1]
    assert {"b_step_loss", "a_step_loss", "a_step_mean_a", "b_step_grad_norm", "loss"} <= set(logged)
    assert logged["loss"] == logged["a_step_loss"]
    loaded = tk_run.load_run(tmp_path / "whole", system="toy_groups")
    assert set(loaded.params) == {"a", "b", "extra"}
    # stopped after 2 steps and resumed: the same as uninterrupted
    driver.train(_TwoGroups(counts), _groups_cfg(tmp_path / "split", 2), progress=False)
    again = driver.train(_TwoGroups(counts), _groups_cfg(tmp_path / "split", 3), progress=False)
    assert again.fit.resumed_from == 2
    jax.tree.map(np.testing.assert_array_equal, again.params, whole.params)

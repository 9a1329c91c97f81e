"""One training driver for every system: the task says what is its own, `train` does the rest.

    class MyTask(Task):
        system = "mmt"                                   # written into run.json
        def setup(self, cfg): ...                        # -> (cfg, data): load the data, derive values
        def model(self, cfg): ...                        # -> a Linen module with logical axis names
        def example_batch(self, cfg, data, rows): ...    # -> a NumPy batch of `rows` rows (shapes only)
        def loss_fn(self, model, cfg): ...               # -> loss_fn(params, batch, rng)
        def pipelines(self, cfg, data, rows, index, count): ...   # -> (train_iter, eval_data or None)
    result = train(MyTask(), cfg)

`cfg` is a frozen dataclass with sections `data` (with `batch_size`, the global batch, and
optionally `eval_batch_size`), `optim`,
`train` and `mesh` (train_kit's). The fixed order, which no system may reorder:
  1. jax.distributed.initialize() (mesh.multihost), before anything touches the backend;
  2. task.setup: data read, config values derived from it (e.g. CLIP's embedding width);
  3. the mesh; the global batch checked against data x fsdp devices and the processes;
  4. the model; parameters and optimiser state born sharded by mesh.rules (refused without
     logical names when fsdp or tensor > 1);
  5. the jitted train and eval steps; `fit` (resume, eval, checkpoints, early stop, SIGTERM);
  6. the best checkpoint by train.keep_best_metric (else the last state) exported with
     train_kit.run.save_run, with task.export's extra fields; then task.after_export (e.g. a
     test-split score, merged into run.json's metrics).
Optional hooks: `init_params`, `eval_fn`, `export`, `after_export`, `describe`, `export_params`.

More than one optimiser (GANs): `optimizers(cfg)` returns {group: OptimConfig} instead of None,
`init_params` returns {group: boxed params} (or that and a dict of non-trained variables such as
BatchNorm statistics), and `updates(model, cfg)` returns the step.Update sequence run in each
train step (e.g. n_critic critic updates, each on its own batch, then one generator update).
The state is then a groups.GroupState; resume, checkpoints, SIGTERM, sharding and the export
work as for one optimiser. `pipelines` yields what the updates read (groups.ScheduledBatches
stacks several batches per step); `export_params(state)` picks what the run folder keeps.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from train_kit.mesh import maybe_initialize_distributed


class Task:
    """What a system tells the driver (override the methods; see the module docstring)."""

    system = "task"

    def setup(self, cfg):
        return cfg, None

    def model(self, cfg):
        raise NotImplementedError

    def example_batch(self, cfg, data, rows):
        raise NotImplementedError

    def init_params(self, model, batch, rng):
        """Boxed parameters from one example batch (default: `model.init(rng, batch)`)."""
        return model.init(rng, batch)["params"]

    def loss_fn(self, model, cfg):
        raise NotImplementedError

    def optimizers(self, cfg):
        """{group: OptimConfig} for several optimisers (then `updates` is used); None: one, cfg.optim."""
        return None

    def updates(self, model, cfg):
        """The step.Update sequence of one train step (only with `optimizers`)."""
        raise NotImplementedError

    def main_update(self, cfg):
        """The update whose loss is fit's "loss" and whose schedule is logged (None: the last)."""
        return None

    def export_params(self, state):
        """What the run folder's params/ holds (default: the trained parameters)."""
        return state.params

    def eval_fn(self, model, cfg):
        return None

    def pipelines(self, cfg, data, rows, process_index, process_count):
        raise NotImplementedError

    def export(self, cfg, data) -> dict:
        """Extra JSON fields for run.json (e.g. normalisation statistics)."""
        return {}

    def after_export(self, cfg, data, model, params, result) -> dict:
        """Metrics computed from the exported parameters (merged into run.json)."""
        return {}

    def describe(self, cfg, data, n_params) -> str:
        return f"{self.system}: {n_params:,} parameters"


@dataclasses.dataclass
class TrainResult:
    status: str
    step: int
    best_step: int | None
    best_metric: float | None
    config: Any
    params: Any  # the exported parameters (host NumPy)
    metrics: dict  # what run.json records
    fit: Any  # train_kit.fit.FitResult (the final train state is .fit.state)
    run_dir: str | None = None


def _best_state(cfg, result):
    """The state of the best checkpoint by the configured metric, else the final state."""
    from train_kit.checkpoint import Checkpointer

    t = cfg.train
    if not (t.out_dir and t.keep_best_metric) or result.best_step in (None, result.step):
        return result.state, result.step
    ckpt = Checkpointer(f"{t.out_dir}/checkpoints", create=False)  # fit kept the best one
    try:
        return ckpt.restore(target=result.state, step=result.best_step)[0], result.best_step
    finally:
        ckpt.close()


def _to_host(params):
    import jax

    if jax.process_count() > 1:
        from jax.experimental import multihost_utils

        return multihost_utils.process_allgather(params, tiled=True)
    return jax.device_get(params)


def train(task: Task, cfg, *, progress=True) -> TrainResult:
    """Run (or resume) a training job; export the run folder when cfg.train.out_dir is set."""
    maybe_initialize_distributed(cfg.mesh)  # 1: nothing above this line may touch the backend
    import jax

    from train_kit import fit as fit_mod
    from train_kit import mesh as tk_mesh
    from train_kit import optim
    from train_kit import run as tk_run
    from train_kit import step as tk_step
    from train_kit.sharding import create_train_state

    cfg, data = task.setup(cfg)  # 2
    mesh = tk_mesh.make_mesh(cfg.mesh)  # 3
    rows = tk_mesh.per_process_batch(cfg.data.batch_size, mesh)
    if getattr(cfg.data, "eval_batch_size", 0):  # a separate evaluation batch splits the same way
        tk_mesh.per_process_batch(cfg.data.eval_batch_size, mesh, "data.eval_batch_size")
    index, count = jax.process_index(), jax.process_count()
    train_iter, eval_data = task.pipelines(cfg, data, rows, index, count)

    model = task.model(cfg)  # 4
    example = task.example_batch(cfg, data, rows)
    groups = task.optimizers(cfg)
    init_fn = lambda rng: task.init_params(model, example, rng)  # noqa: E731
    if groups is None:
        tx, schedule = optim.make_optimizer(cfg.optim)
        state, shardings = create_train_state(init_fn, tx, mesh, seed=cfg.train.seed, rules=cfg.mesh.rules)
        lr_cfg = cfg.optim
    else:
        from train_kit.groups import create_group_state

        made = {name: optim.make_optimizer(ocfg) for name, ocfg in groups.items()}
        txs = {name: tx for name, (tx, _) in made.items()}
        state, shardings = create_group_state(init_fn, txs, mesh, seed=cfg.train.seed, rules=cfg.mesh.rules)
        updates = tuple(task.updates(model, cfg))
        main = task.main_update(cfg) or updates[-1].name
        main_group = next(u.group for u in updates if u.name == main)
        schedule, lr_cfg = made[main_group][1], groups[main_group]
    n_params = sum(int(np.prod(x.shape)) for x in jax.tree.leaves(state.params))
    if index == 0 and progress:
        print(
            f"{task.describe(cfg, data, n_params)}; mesh {dict(mesh.shape)}; "
            f"batch {cfg.data.batch_size} over {count} process(es)"
        )

    batch_sh = tk_mesh.batch_shardings(example, mesh)  # 5
    dtype = optim.compute_dtype(cfg.optim)
    if groups is None:
        train_step = tk_step.make_train_step(
            task.loss_fn(model, cfg), tx, shardings, batch_sh, rules=cfg.mesh.rules, compute_dtype=dtype
        )
    else:
        train_step = tk_step.make_group_train_step(
            updates, txs, shardings, batch_sh, main=main, rules=cfg.mesh.rules, compute_dtype=dtype
        )
    eval_fn = task.eval_fn(model, cfg) if eval_data is not None else None
    eval_step = (
        None
        if eval_fn is None
        else tk_step.make_eval_step(
            eval_fn, shardings.params, batch_sh, rules=cfg.mesh.rules, compute_dtype=dtype
        )
    )
    result = fit_mod.fit(
        state,
        train_step,
        train_iter,
        cfg.train,
        mesh=mesh,
        eval_step=eval_step,
        eval_data=eval_data if eval_step is not None else None,
        lr_fn=lambda s: optim.learning_rate(schedule, s, lr_cfg),
    )

    best, step = _best_state(cfg, result)  # 6
    params = _to_host(task.export_params(best))
    metrics = {
        k: v for k, v in {**result.last_train, **result.last_eval}.items() if k not in ("steps_per_s", "lr")
    }
    if result.best_metric is not None:
        metrics[f"best_{cfg.train.keep_best_metric or 'eval_loss'}"] = result.best_metric
    run_dir = cfg.train.out_dir or None
    if run_dir:
        tk_run.save_run(
            run_dir,
            system=task.system,
            config=cfg,
            params=params,
            step=step,
            metrics=metrics,
            status=result.status,
            final_step=result.step,
            **task.export(cfg, data),
        )
    more = task.after_export(cfg, data, model, params, result)
    if more:
        metrics.update(more)
        if run_dir and index == 0:
            tk_run.update_run_info(run_dir, metrics=more)
    return TrainResult(
        result.status,
        result.step,
        result.best_step,
        result.best_metric,
        cfg,
        params,
        metrics,
        result,
        run_dir,
    )

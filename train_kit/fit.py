"""The fit loop: train, evaluate, log, checkpoint, stop, resume.

    result = fit(state, train_step, train_iter, train_cfg, mesh=mesh,
                 eval_step=eval_step, eval_data=lambda: ArrayIterator(...),  # optional
                 lr_fn=lambda step: learning_rate(schedule, step, optim_cfg))  # optional
    result.status in {"finished", "early_stopped", "preempted", "data_exhausted"};
    result.state, result.step

`train_iter` yields per-process NumPy batches and has get_state()/set_state() (grain's
DatasetIterator, data.ArrayIterator); batches become global arrays with mesh.global_batch.
`eval_data()` returns a fresh iterable of per-process batches; their metrics are averaged and
logged with an "eval_" prefix. With train_cfg.out_dir set:
  * if out_dir/checkpoints holds a checkpoint, the run resumes from the latest one: state, data
    iterator position, best metric and patience counter, so it continues exactly as an
    uninterrupted run would;
  * checkpoints every ckpt_every steps, at every evaluation when keep_best_metric is set, at the
    end and on SIGTERM (then it returns status "preempted");
  * metrics.jsonl and TensorBoard events under out_dir.
Early stopping: after `patience` evaluations in a row without improving keep_best_metric
(default "eval_loss"). Metrics stay on the device and are fetched every log_every steps (and
before every checkpoint); a non-finite loss then raises NonFiniteLossError without saving, so
the last checkpoint is the last good state.
"""

from __future__ import annotations

import collections
import dataclasses
import math
import os
import signal
import threading
import time

import jax
import numpy as np
from tqdm.auto import tqdm

from music_codecs.errors import UserError
from train_kit.checkpoint import Checkpointer
from train_kit.config import ConfigError, TrainConfig
from train_kit.mesh import global_batch
from train_kit.metric_log import MetricLogger


class NonFiniteLossError(UserError):
    """The loss (or gradient norm) became NaN or infinite."""


@dataclasses.dataclass
class FitResult:
    state: object
    status: str  # "finished" | "early_stopped" | "preempted" | "data_exhausted"
    step: int
    resumed_from: int | None = None
    best_metric: float | None = None
    best_step: int | None = None
    last_train: dict = dataclasses.field(default_factory=dict)
    last_eval: dict = dataclasses.field(default_factory=dict)


class _Preemption:
    """Turns SIGTERM into a flag the loop checks after each step (main thread only)."""

    def __init__(self):
        self.requested = False
        self._old = None

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self._old = signal.signal(signal.SIGTERM, self._handle)
        return self

    def _handle(self, signum, frame):
        self.requested = True

    def __exit__(self, *exc):
        if self._old is not None:
            signal.signal(signal.SIGTERM, self._old)


def _preempted(preempt, step):
    """On one host: did SIGTERM arrive (a later one is seen after the next step)? On several:
    JAX's preemption sync point, so that every host stops and saves at the same step."""
    if jax.process_count() == 1:
        return preempt.requested
    from jax.experimental import multihost_utils

    return multihost_utils.reached_preemption_sync_point(step)


def _mean_metrics(rows):
    keys = [k for k in rows[0] if k != "finite"]
    return {k: float(np.mean([r[k] for r in rows])) for k in keys}


def evaluate(eval_step, params, batches, mesh):
    """Average eval_step's metrics over `batches` (per-process NumPy), keys prefixed "eval_"."""
    rows = []
    for b in batches:
        rows.append(eval_step(params, global_batch(b, mesh)))
        if len(rows) > 2:  # bounded run-ahead, as in the train loop
            jax.block_until_ready(rows[-3])
    if not rows:
        return {}
    rows = jax.device_get(rows)
    return {f"eval_{k}": float(np.mean([r[k] for r in rows])) for k in rows[0]}


def fit(
    state,
    train_step,
    train_iter,
    cfg: TrainConfig,
    *,
    mesh,
    eval_step=None,
    eval_data=None,
    lr_fn=None,
    hooks=(),
    max_in_flight=2,
) -> FitResult:
    """Run training to cfg.max_steps (see the module docstring). `hooks`: callables
    hook(step, state, train_metrics_or_None) run after every step (e.g. tests, profilers).
    At most `max_in_flight` dispatched steps are left unfinished at a time."""
    out_dir = cfg.out_dir
    monitor = cfg.keep_best_metric or "eval_loss"
    sign = 1.0 if cfg.best_mode == "min" else -1.0
    ckpt = None
    book = {"best": None, "best_step": None, "bad_evals": 0, "status": None}
    resumed_from = None
    if out_dir:
        ckpt = Checkpointer(
            os.path.join(out_dir, "checkpoints"),
            keep_last=cfg.keep_last,
            best_metric=cfg.keep_best_metric,
            best_mode=cfg.best_mode,
            async_save=cfg.async_checkpoints,
        )
        if ckpt.latest_step() is not None:
            state, data_state, extra = ckpt.restore(state)
            train_iter.set_state(data_state)
            book.update(extra.get("fit", {}))
            resumed_from = int(state.step)
    step = int(jax.device_get(state.step))
    logger = MetricLogger(out_dir, resume_step=resumed_from, enabled=jax.process_index() == 0)
    result = FitResult(state, "finished", step, resumed_from, book["best"], book["best_step"])
    if book["status"] == "early_stopped":  # the saved run had already stopped: nothing to do
        result.status = "early_stopped"
        logger.close()
        ckpt.close()
        return result

    # Bound how far the host runs ahead: enough to overlap data loading with compute, and
    # many queued collective programs deadlock the CPU backend's simulated devices.
    pending, window_start, in_flight = [], time.perf_counter(), collections.deque()
    last_saved = resumed_from
    bar = tqdm(
        total=cfg.max_steps, initial=step, desc="train", dynamic_ncols=True, disable=jax.process_index() != 0
    )
    if resumed_from is not None:
        bar.write(f"resumed from step {resumed_from} ({ckpt.directory})")

    def flush():
        """Fetch pending step metrics; stop on a non-finite loss; log their mean."""
        nonlocal pending, window_start
        if not pending:
            return {}
        rows = jax.device_get([m for _, m in pending])
        for (s, _), r in zip(pending, rows):
            if not bool(r["finite"]):
                last = ckpt.latest_step() if ckpt else None
                raise NonFiniteLossError(
                    f"loss {float(r['loss'])} / grad norm {float(r['grad_norm'])} at step {s}: "
                    f"stopped without saving; last good checkpoint: "
                    f"{'none' if last is None else f'step {last} in {ckpt.directory}'}"
                )
        now = time.perf_counter()
        metrics = _mean_metrics(rows)
        metrics["steps_per_s"] = len(rows) / max(now - window_start, 1e-9)
        if lr_fn is not None:
            metrics["lr"] = float(lr_fn(pending[-1][0] - 1))
        logger.write(pending[-1][0], metrics)
        bar.set_postfix(loss=f"{metrics['loss']:.4f}", steps_s=f"{metrics['steps_per_s']:.2f}")
        pending, window_start = [], now
        return metrics

    try:
        with _Preemption() as preempt:
            while step < cfg.max_steps:
                try:
                    host_batch = next(train_iter)
                except StopIteration:  # a finite data stream ends the run early, saved
                    flush()
                    if ckpt is not None and last_saved != step:
                        ckpt.save(step, state, data_state=train_iter.get_state(), extra={"fit": book})
                    result.status = "data_exhausted"
                    break
                batch = global_batch(host_batch, mesh)
                state, metrics = train_step(state, batch)
                step += 1
                in_flight.append(metrics["loss"])
                if len(in_flight) > max_in_flight:
                    in_flight.popleft().block_until_ready()
                preempted = _preempted(preempt, step)
                bar.update(1)
                pending.append((step, metrics))
                do_eval = bool(cfg.eval_every and eval_step is not None and step % cfg.eval_every == 0)
                do_ckpt = ckpt is not None and (
                    (cfg.ckpt_every and step % cfg.ckpt_every == 0)
                    or step == cfg.max_steps
                    or (do_eval and cfg.keep_best_metric)
                    or preempted
                )
                train_metrics = None
                if step % cfg.log_every == 0 or do_eval or do_ckpt or step == cfg.max_steps:
                    train_metrics = result.last_train = flush()
                eval_metrics, stop = None, False
                if do_eval:
                    eval_metrics = result.last_eval = evaluate(eval_step, state.params, eval_data(), mesh)
                    logger.write(step, eval_metrics, split="eval")
                    if (cfg.keep_best_metric or cfg.patience) and monitor not in eval_metrics:
                        raise ConfigError(
                            f"train.keep_best_metric={monitor!r} is not an eval metric; "
                            f"have: {', '.join(sorted(eval_metrics))}"
                        )
                    value = eval_metrics[monitor] if monitor in eval_metrics else None
                    if (
                        value is not None
                        and math.isfinite(value)
                        and (book["best"] is None or sign * value < sign * book["best"])
                    ):
                        book.update(best=value, best_step=step, bad_evals=0)
                    elif value is not None:  # no better (a NaN eval metric is no better either)
                        book["bad_evals"] += 1
                    stop = cfg.patience > 0 and book["bad_evals"] >= cfg.patience
                    if stop:
                        book["status"] = "early_stopped"
                        bar.write(
                            f"early stop at step {step}: {monitor} did not improve in "
                            f"{cfg.patience} evaluations (best {book['best']:.6g} at step "
                            f"{book['best_step']})"
                        )
                if ckpt is not None and (do_ckpt or stop):
                    ckpt.save(
                        step,
                        state,
                        data_state=train_iter.get_state(),
                        extra={"fit": book},
                        metrics=eval_metrics if cfg.keep_best_metric else None,
                    )
                    last_saved = step
                for hook in hooks:
                    hook(step, state, train_metrics)
                if stop:
                    result.status = "early_stopped"
                    break
                if preempted:
                    bar.write(f"SIGTERM: {'saved' if ckpt else 'stopped at'} step {step}, exiting")
                    result.status = "preempted"
                    break
            flush()
    finally:
        bar.close()
        logger.close()
        if ckpt is not None:
            ckpt.wait()
            ckpt.close()
    result.state, result.step = state, step
    result.best_metric, result.best_step = book["best"], book["best_step"]
    return result

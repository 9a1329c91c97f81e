"""Checkpoints: orbax-checkpoint behind one small class.

    ckpt = Checkpointer(out_dir / "checkpoints", keep_last=3, best_metric="eval_loss",
                        best_mode="min", async_save=True)
    ckpt.save(step, state, data_state=it.get_state(), extra={...}, metrics={"eval_loss": 1.2})
    state, data_state, extra = ckpt.restore(target=state)     # latest step; or step=N
    ckpt.latest_step(), ckpt.best_step(), ckpt.all_steps(); ckpt.wait(); ckpt.close()

A checkpoint holds three items: the train state (orbax StandardSave, each process writing its
shards), the data iterator's state and a free-form `extra` dict (both JSON). Saves are
asynchronous: `save` returns once the arrays are copied off the device, so the state may be
donated to the next step right away. Kept: the last `keep_last` steps plus the best one by
`best_metric` (checkpoints saved with metrics). `restore(target)` takes a live state or an
abstract one (ShapeDtypeStructs with concrete NamedShardings) and returns arrays in exactly that
sharded layout. A missing directory, no checkpoint, or a structure/shape mismatch raises
CheckpointError, one line.
"""

from __future__ import annotations

import logging
import os

import jax
import orbax.checkpoint as ocp
from orbax.checkpoint import checkpoint_managers as cm

from music_codecs.errors import UserError
from train_kit.sharding import abstract_like


def _quiet_untracked(record):
    """Final and SIGTERM saves carry no eval metrics by design; orbax warns about each."""
    return "did not provide metrics" not in record.getMessage()


logging.getLogger("absl").addFilter(_quiet_untracked)


class CheckpointError(UserError):
    """A checkpoint that is missing or does not fit the model being restored."""


class Checkpointer:
    def __init__(
        self, directory, *, keep_last=3, best_metric="", best_mode="min", async_save=True, create=True
    ):
        self.directory = os.path.abspath(os.fspath(directory))
        if not create and not os.path.isdir(self.directory):
            raise CheckpointError(f"{self.directory}: no checkpoint directory")
        self.best_metric, self.best_mode = best_metric, best_mode
        policies = [cm.LatestN(n=max(keep_last, 1))]
        if best_metric:
            policies.append(
                cm.BestN(
                    get_metric_fn=lambda m: m[best_metric],
                    reverse=best_mode == "min",
                    n=1,
                    keep_checkpoints_without_metrics=False,
                )
            )
        # orbax writes a step's metrics only when best_fn is set; without them BestN keeps nothing
        # and the best checkpoint survives only while it is among the last keep_last.
        tracking = dict(best_fn=lambda m: m[best_metric], best_mode=best_mode) if best_metric else {}
        options = ocp.CheckpointManagerOptions(
            enable_async_checkpointing=async_save,
            create=create,
            preservation_policy=cm.AnyPreservationPolicy(policies),
            **tracking,
        )
        self._manager = ocp.CheckpointManager(
            self.directory, options=options, item_names=("state", "data", "extra")
        )

    # ------------------------------------------------------------------ queries
    def all_steps(self):
        return sorted(self._manager.all_steps())

    def latest_step(self):
        return self._manager.latest_step()

    def best_step(self):
        """The kept step with the best `best_metric`, or None."""
        if not self.best_metric:
            return None
        scored = [
            (m[self.best_metric], s)
            for s in self.all_steps()
            if (m := self._manager.metrics(s)) and self.best_metric in m
        ]
        if not scored:
            return None
        return (min(scored) if self.best_mode == "min" else max(scored))[1]

    # ------------------------------------------------------------------ save / restore
    def save(self, step, state, *, data_state=None, extra=None, metrics=None):
        """Start an (async) save of step `step`; returns whether orbax accepted it."""
        args = ocp.args.Composite(
            state=ocp.args.StandardSave(state),
            data=ocp.args.JsonSave(data_state or {}),
            extra=ocp.args.JsonSave(extra or {}),
        )
        metrics = {k: float(v) for k, v in metrics.items()} if metrics else None
        return self._manager.save(int(step), args=args, metrics=metrics, force=True)

    def restore(self, target, step=None):
        """Restore (state, data_state, extra) at `step` (default: latest) into `target`'s layout."""
        self.wait()
        if step is None:
            step = self.latest_step()
            if step is None:
                raise CheckpointError(f"{self.directory}: no checkpoint found")
        elif step not in self.all_steps():
            raise CheckpointError(
                f"{self.directory}: no checkpoint for step {step} (have {self.all_steps() or 'none'})"
            )
        abstract = jax.tree.map(
            lambda x: x if isinstance(x, jax.ShapeDtypeStruct) else abstract_like(x), target
        )
        args = ocp.args.Composite(
            state=ocp.args.StandardRestore(abstract),
            data=ocp.args.JsonRestore(),
            extra=ocp.args.JsonRestore(),
        )
        try:
            out = self._manager.restore(step, args=args)
        except Exception as err:  # orbax raises assorted types for structure/shape mismatches
            first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise CheckpointError(
                f"{self.directory}: step {step} is damaged or does not match the model (move it "
                f"away to resume from an earlier step): {first[:300]}"
            ) from err
        return out.state, dict(out.data or {}), dict(out.extra or {})

    def wait(self):
        self._manager.wait_until_finished()

    def close(self):
        self._manager.close()

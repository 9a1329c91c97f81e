"""Several optimisers in one run: named parameter groups and the batches of an update schedule.

A GAN (MuseGAN's generator and critic, HiFi-GAN's generator and discriminators) trains more
than one set of parameters, each with its own optimiser, in a fixed order within one step.

    GroupState(step, params, opt_state, rng, extra)
        params and opt_state are dicts keyed by group name ({"generator": ..., "critic": ...});
        `extra` holds variables no optimiser touches (e.g. BatchNorm statistics). `step`
        counts train-step calls (for a GAN: generator updates), as in TrainState.
    create_group_state(init_fn, optimizers, mesh, seed, rules) -> (state, shardings)
        init_fn(rng) -> {group: boxed params} or ({group: boxed params}, extra); every group's
        parameters and optimiser state are born sharded by the logical rules, as in
        sharding.create_train_state.
    ScheduledBatches(source, counts)
        Wraps a checkpointable iterator of per-process batches: train step s gets
        {name: leaves stacked along a new axis 1, counts[name](s) source batches each}, so an
        update repeated k times in one step sees k different batches (WGAN-GP's n_critic) and
        a schedule that changes k with the step (MuseGAN v1: 100 critic updates early on) is a
        function of the step alone, restored exactly on resume. Axis 0 stays the batch axis,
        split over the data-parallel devices.

The step itself is step.make_group_train_step; the driver uses both when a Task's
`optimizers(cfg)` names more than one group.
"""

from __future__ import annotations

from typing import Any, Callable

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

from train_kit.config import DEFAULT_RULES
from train_kit.sharding import _check_named, opt_state_shardings, param_shardings, unbox


@flax.struct.dataclass
class GroupState:
    step: Any
    params: Any  # {group: params}
    opt_state: Any  # {group: optimiser state}
    rng: Any
    extra: Any  # non-trained variables, e.g. {"batch_stats": ...}


def _split_init(out):
    return out if isinstance(out, tuple) else (out, {})


def create_group_state(init_fn, optimizers, mesh, seed=0, rules=DEFAULT_RULES):
    """The GroupState sharded from birth; returns (state, state_shardings)."""
    names = sorted(optimizers)

    def init(rng):
        params, extra = _split_init(init_fn(rng))
        params, extra = unbox(params), unbox(extra)
        missing = set(names) ^ set(params)
        if missing:
            raise ValueError(f"init_fn's groups {sorted(params)} do not match the optimisers' {names}")
        return GroupState(
            step=jnp.zeros((), jnp.int32),
            params=params,
            opt_state={n: optimizers[n].init(params[n]) for n in names},
            rng=jax.random.key_data(jax.random.key(seed + 1)),
            extra=extra,
        )

    rng = jax.random.key(seed)
    replicated = NamedSharding(mesh, P())
    boxed_params, boxed_extra = _split_init(jax.eval_shape(init_fn, rng))
    _check_named(boxed_params, mesh)
    p_sh = {n: param_shardings(boxed_params[n], mesh, rules) for n in names}
    abstract = jax.eval_shape(init, rng)
    shardings = GroupState(
        step=replicated,
        params=p_sh,
        opt_state={
            n: opt_state_shardings(optimizers[n], abstract.opt_state[n], p_sh[n], mesh) for n in names
        },
        rng=replicated,
        extra=param_shardings(boxed_extra, mesh, rules),
    )
    state = jax.jit(init, out_shardings=shardings)(rng)
    return state, shardings


class ScheduledBatches:
    """Per-step stacks of source batches (see the module docstring).

    counts: {name: int or callable(step) -> int}; within a step the names are filled in the
    given order, each from the next batches of `source`. The state is the source's state at
    the start of a step plus the step number."""

    def __init__(self, source, counts: dict[str, int | Callable[[int], int]], step=0):
        self.source, self.counts, self.step = source, dict(counts), int(step)

    def count(self, name, step):
        c = self.counts[name]
        return int(c(step) if callable(c) else c)

    def __iter__(self):
        return self

    def __next__(self):
        out = {}
        for name in self.counts:
            rows = [next(self.source) for _ in range(self.count(name, self.step))]
            if rows:
                out[name] = jax.tree.map(lambda *xs: np.stack(xs, axis=1), *rows)
        self.step += 1
        return out

    def get_state(self):
        return {"source": self.source.get_state(), "step": self.step}

    def set_state(self, state):
        self.source.set_state(state["source"])
        self.step = int(state["step"])

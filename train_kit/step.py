"""The sharded train and eval steps.

    train_step = make_train_step(loss_fn, tx, state_shardings, batch_sharding)
    state, metrics = train_step(state, batch)
        loss_fn(params, batch, rng) -> (loss, metrics_dict). One `jax.jit` with in/out shardings
        and the state donated. rng = fold_in(state.rng, state.step), so randomness depends only
        on the step. Metrics: the loss_fn's own, plus "loss", "grad_norm" and "finite" (loss and
        gradient norm both finite), all replicated scalars left on device (no host sync).
    eval_step = make_eval_step(eval_fn, params_shardings, batch_sharding)
    metrics = eval_step(params, batch)
        eval_fn(params, batch) -> metrics_dict, or (loss, metrics_dict) (then "loss" is added).

    train_step = make_group_train_step(updates, optimizers, state_shardings, batch_sharding)
        Several parameter groups (groups.GroupState), each with its own optimiser: `updates` is
        a sequence of Update(name, group, loss_fn, batch_key=None, repeat=False) run in order
        in one jitted step. loss_fn(params, extra, batch, rng) -> (loss, metrics) or
        (loss, (metrics, new_extra)), where `params` holds every group's current values and
        only params[group] is differentiated. batch_key picks batch[batch_key] (else the whole
        batch); repeat=True runs the update once per slice along axis 1 of that entry (see
        groups.ScheduledBatches), each with its own batch and rng. Metrics are prefixed with
        the update's name ("critic_loss", "critic_grad_norm", repeated updates averaged);
        "loss" and "grad_norm" are those of update `main` (default: the last), "finite" covers
        every update.

`batch_sharding` is one sharding for every batch leaf (e.g. `mesh.batch_sharding(mesh)`) or a
tree of them. Calls run inside `mesh_context`, so a model's `nn.with_logical_constraint`s take
effect. `compute_dtype=jnp.bfloat16` runs the loss on bf16 copies of the f32 parameters (and of
floating batch leaves); gradients and the update stay f32.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import jax
import jax.numpy as jnp
import optax
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

from train_kit.optim import cast_floating
from train_kit.sharding import DEFAULT_RULES, mesh_context


class _MeshStep:
    """A jitted function that is traced and called under the mesh and the logical rules."""

    def __init__(self, jitted, mesh, rules):
        self.jitted, self.mesh, self.rules = jitted, mesh, rules

    def __call__(self, *args):
        with mesh_context(self.mesh, self.rules):
            return self.jitted(*args)

    def lower(self, *args):
        with mesh_context(self.mesh, self.rules):
            return self.jitted.lower(*args)


def _mesh_of(shardings):
    return jax.tree.leaves(shardings, is_leaf=lambda x: isinstance(x, NamedSharding))[0].mesh


def _with_loss(out):
    if isinstance(out, tuple):
        loss, metrics = out
        return {**metrics, "loss": loss}
    return dict(out)


def make_train_step(
    loss_fn,
    optimizer,
    state_shardings,
    batch_sharding,
    *,
    rules=DEFAULT_RULES,
    compute_dtype=None,
    donate=True,
):
    mesh = _mesh_of(state_shardings)
    replicated = NamedSharding(mesh, P())

    def step(state, batch):
        rng = jax.random.fold_in(jax.random.wrap_key_data(state.rng), state.step)

        def compute(params):
            loss, metrics = loss_fn(
                cast_floating(params, compute_dtype), cast_floating(batch, compute_dtype), rng
            )
            return loss.astype(jnp.float32), metrics

        (loss, metrics), grads = jax.value_and_grad(compute, has_aux=True)(state.params)
        grad_norm = optax.global_norm(grads)
        updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
        params = optax.apply_updates(state.params, updates)
        metrics = {
            **metrics,
            "loss": loss,
            "grad_norm": grad_norm,
            "finite": jnp.isfinite(loss) & jnp.isfinite(grad_norm),
        }
        new_state = state.replace(step=state.step + 1, params=params, opt_state=opt_state)
        return new_state, metrics

    jitted = jax.jit(
        step,
        in_shardings=(state_shardings, batch_sharding),
        out_shardings=(state_shardings, replicated),
        donate_argnums=(0,) if donate else (),
    )
    return _MeshStep(jitted, mesh, rules)


def make_eval_step(eval_fn, params_shardings, batch_sharding, *, rules=DEFAULT_RULES, compute_dtype=None):
    mesh = _mesh_of(params_shardings)

    def step(params, batch):
        out = _with_loss(eval_fn(cast_floating(params, compute_dtype), cast_floating(batch, compute_dtype)))
        return {k: jnp.asarray(v, jnp.float32) for k, v in out.items()}

    jitted = jax.jit(
        step, in_shardings=(params_shardings, batch_sharding), out_shardings=NamedSharding(mesh, P())
    )
    return _MeshStep(jitted, mesh, rules)


@dataclasses.dataclass(frozen=True)
class Update:
    """One optimiser update inside a group train step (see make_group_train_step)."""

    name: str
    group: str
    loss_fn: Callable
    batch_key: str | None = None
    repeat: bool = False


def _split_aux(aux, extra):
    if isinstance(aux, tuple):
        metrics, new_extra = aux
        return metrics, new_extra
    return aux, extra


def make_group_train_step(
    updates,
    optimizers,
    state_shardings,
    batch_sharding,
    *,
    main=None,
    rules=DEFAULT_RULES,
    compute_dtype=None,
    donate=True,
):
    updates = tuple(updates)
    main = updates[-1].name if main is None else main
    if main not in {u.name for u in updates}:
        raise ValueError(f"main={main!r} is not one of the updates {[u.name for u in updates]}")
    mesh = _mesh_of(state_shardings)
    replicated = NamedSharding(mesh, P())

    def apply_update(u, params, opt_state, extra, batch, rng):
        def compute(group_params):
            full = cast_floating({**params, u.group: group_params}, compute_dtype)
            loss, aux = u.loss_fn(full, extra, cast_floating(batch, compute_dtype), rng)
            metrics, new_extra = _split_aux(aux, extra)
            return loss.astype(jnp.float32), (metrics, new_extra)

        (loss, (metrics, new_extra)), grads = jax.value_and_grad(compute, has_aux=True)(params[u.group])
        grad_norm = optax.global_norm(grads)
        delta, new_opt = optimizers[u.group].update(grads, opt_state[u.group], params[u.group])
        params = {**params, u.group: optax.apply_updates(params[u.group], delta)}
        opt_state = {**opt_state, u.group: new_opt}
        return params, opt_state, new_extra, {**metrics, "loss": loss, "grad_norm": grad_norm}

    def step(state, batch):
        rng = jax.random.fold_in(jax.random.wrap_key_data(state.rng), state.step)
        params, opt_state, extra = dict(state.params), dict(state.opt_state), state.extra
        out, finite = {}, jnp.array(True)
        for index, u in enumerate(updates):
            key = jax.random.fold_in(rng, index)
            sub = batch if u.batch_key is None else batch[u.batch_key]
            if u.repeat:
                times = jax.tree.leaves(sub)[0].shape[1]
                stacked = jax.tree.map(lambda x: jnp.moveaxis(x, 1, 0), sub)

                def body(carry, xs, u=u):
                    p, o, e = carry
                    b, k = xs
                    p, o, e, m = apply_update(u, p, o, e, b, k)
                    return (p, o, e), m

                (params, opt_state, extra), rows = jax.lax.scan(
                    body, (params, opt_state, extra), (stacked, jax.random.split(key, times))
                )
                metrics = jax.tree.map(lambda x: jnp.mean(x, axis=0), rows)
            else:
                params, opt_state, extra, metrics = apply_update(u, params, opt_state, extra, sub, key)
            finite = finite & jnp.isfinite(metrics["loss"]) & jnp.isfinite(metrics["grad_norm"])
            out.update({f"{u.name}_{k}": v for k, v in metrics.items()})
        out.update(loss=out[f"{main}_loss"], grad_norm=out[f"{main}_grad_norm"], finite=finite)
        new_state = state.replace(step=state.step + 1, params=params, opt_state=opt_state, extra=extra)
        return new_state, out

    jitted = jax.jit(
        step,
        in_shardings=(state_shardings, batch_sharding),
        out_shardings=(state_shardings, replicated),
        donate_argnums=(0,) if donate else (),
    )
    return _MeshStep(jitted, mesh, rules)

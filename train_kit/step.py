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

`batch_sharding` is one sharding for every batch leaf (e.g. `mesh.batch_sharding(mesh)`) or a
tree of them. Calls run inside `mesh_context`, so a model's `nn.with_logical_constraint`s take
effect. `compute_dtype=jnp.bfloat16` runs the loss on bf16 copies of the f32 parameters (and of
floating batch leaves); gradients and the update stay f32.
"""

from __future__ import annotations

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

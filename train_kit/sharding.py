"""Logical axis names -> mesh axes, and train states born sharded.

Models annotate parameters with logical names (`nn.with_logical_partitioning(init, ("embed",
"mlp"))`) and activations with `nn.with_logical_constraint`. DEFAULT_RULES maps those names to
the mesh axes ("data", "fsdp", "tensor"), so data parallel, FSDP and tensor parallel are only a
different MeshConfig. Rules are tried in order and a mesh axis is used at most once per array,
so an activation ("batch", "length", "embed") puts the batch on (data, fsdp) and leaves embed
whole, while a kernel ("embed", "mlp") is split over fsdp x tensor.

    mesh_context(mesh, rules)                  context for tracing models (set_mesh + axis rules)
    unbox(tree)                                strip nn.Partitioned boxes (no sharding constraint)
    param_shardings(abstract_vars, mesh, rules)  NamedShardings from an eval_shape'd init
    opt_state_shardings(tx, abstract_opt_state, param_sh, mesh)   the same for optimiser state
    create_train_state(init_fn, tx, mesh, seed, rules) -> (state, state_shardings)
        init_fn(rng) -> (boxed) params; the jitted init has out_shardings, so parameters and
        optimiser state are created directly in their sharded layout. On a mesh with fsdp or
        tensor > 1, a parameter without logical names is refused (it would silently replicate).
    abstract_like(tree)                        ShapeDtypeStructs with concrete shardings (restore target)
"""

from __future__ import annotations

import contextlib

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

from train_kit.config import DEFAULT_RULES, ConfigError
from train_kit.state import TrainState


@contextlib.contextmanager
def mesh_context(mesh, rules=DEFAULT_RULES):
    """Mesh and logical rules for tracing: activation constraints only apply inside this."""
    with jax.set_mesh(mesh), nn.logical_axis_rules(rules):
        yield


def _is_box(x):
    return isinstance(x, nn.meta.AxisMetadata)


def unbox(tree):
    """Take `.value` out of every partitioning box (`nn.meta.unbox` would add constraints)."""
    return jax.tree.map(lambda x: x.unbox(apply_constraint=False) if _is_box(x) else x, tree, is_leaf=_is_box)


def _fit_spec(spec, shape, mesh):
    """Drop mesh axes that do not divide their dimension (e.g. a vocab of 13 on tensor=4)."""
    out = []
    for dim, axes in zip(shape, tuple(spec) + (None,) * (len(shape) - len(spec))):
        names = (axes,) if isinstance(axes, str) else tuple(axes or ())
        size = 1
        for name in names:
            size *= mesh.shape[name]
        out.append(axes if dim % size == 0 else None)
    return P(*out)


def param_shardings(abstract_vars, mesh, rules=DEFAULT_RULES):
    """NamedShardings for the unboxed tree of `abstract_vars` (an eval_shape of a boxed init)."""
    logical = nn.get_partition_spec(abstract_vars)
    mesh_specs = nn.logical_to_mesh(logical, rules)
    values = unbox(abstract_vars)
    return jax.tree.map(
        lambda s, v: NamedSharding(mesh, _fit_spec(s, v.shape, mesh)),
        mesh_specs,
        values,
        is_leaf=lambda x: isinstance(x, P),
    )


def opt_state_shardings(tx, abstract_opt_state, param_sh, mesh):
    """Parameter-shaped optimiser leaves (moments, accumulators) follow their parameter."""
    replicated = NamedSharding(mesh, P())
    return optax.tree_utils.tree_map_params(
        tx,
        lambda _, s: s,
        abstract_opt_state,
        param_sh,
        transform_non_params=lambda _: replicated,
        is_leaf=lambda x: isinstance(x, jax.ShapeDtypeStruct),
    )


def unnamed_params(abstract_vars):
    """Paths of parameters that carry no logical axis names (not in a partitioning box)."""
    flat = jax.tree_util.tree_flatten_with_path(abstract_vars, is_leaf=_is_box)[0]
    return [jax.tree_util.keystr(path) for path, leaf in flat if not _is_box(leaf)]


def _check_named(abstract_vars, mesh):
    if mesh.shape.get("fsdp", 1) * mesh.shape.get("tensor", 1) == 1:
        return
    missing = unnamed_params(abstract_vars)
    if missing:
        raise ConfigError(
            f"mesh fsdp={mesh.shape.get('fsdp', 1)} tensor={mesh.shape.get('tensor', 1)} needs logical "
            f"axis names on every parameter, but {len(missing)} have none (first: {missing[0]}); "
            f"wrap their initialisers in nn.with_logical_partitioning or use mesh.fsdp=1 mesh.tensor=1"
        )


def create_train_state(init_fn, tx, mesh, seed=0, rules=DEFAULT_RULES):
    """Build the TrainState sharded from birth; returns (state, state_shardings).

    `init_fn(rng) -> params` may return logically partitioned (boxed) params, e.g.
    `lambda rng: model.init(rng, example)["params"]`.
    """

    def init(rng):
        params = unbox(init_fn(rng))
        return TrainState(
            step=jnp.zeros((), jnp.int32),
            params=params,
            opt_state=tx.init(params),
            rng=jax.random.key_data(jax.random.key(seed + 1)),
        )

    rng = jax.random.key(seed)
    replicated = NamedSharding(mesh, P())
    # No mesh context here: the layout comes from out_shardings alone, and Linen's in-init
    # constraints (e.g. on DenseGeneral's flattened kernels) would only get in the way.
    abstract_vars = jax.eval_shape(init_fn, rng)
    _check_named(abstract_vars, mesh)
    p_sh = param_shardings(abstract_vars, mesh, rules)
    abstract = jax.eval_shape(init, rng)
    shardings = TrainState(
        step=replicated,
        params=p_sh,
        opt_state=opt_state_shardings(tx, abstract.opt_state, p_sh, mesh),
        rng=replicated,
    )
    state = jax.jit(init, out_shardings=shardings)(rng)
    return state, shardings


def abstract_like(tree):
    """ShapeDtypeStructs carrying each array's concrete sharding (an orbax restore target)."""
    return jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=x.sharding), tree)

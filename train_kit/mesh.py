"""The device mesh and global batches.

    maybe_initialize_distributed(mesh_cfg)   jax.distributed.initialize() when mesh_cfg.multihost
    per_process_batch(batch_size, mesh)      check a global batch against the mesh and processes
    mesh = make_mesh(mesh_cfg, devices=None) a Mesh over ("data", "fsdp", "tensor") with Auto axes
    batch_sharding(mesh)                     NamedSharding splitting axis 0 over (data, fsdp)
    global_batch(per_process_batch, mesh)    per-process NumPy slices -> global jax Arrays

Axes are Auto (not `jax.make_mesh`'s Explicit default) because Linen's logical partitioning
needs the compiler to propagate shardings. A size of -1 absorbs the devices the other axes leave.
"""

from __future__ import annotations

import math
import os

import jax
import numpy as np
from jax.sharding import AxisType, NamedSharding
from jax.sharding import PartitionSpec as P

from train_kit.config import ConfigError, MeshConfig

AXES = ("data", "fsdp", "tensor")
BATCH_AXES = ("data", "fsdp")  # the batch dimension is split over both; FSDP is data parallel too


def maybe_initialize_distributed(cfg: MeshConfig) -> None:
    """Join the multi-host job when cfg.multihost. It must run before anything touches the JAX
    backend. On TPU VMs, SLURM and Open MPI JAX finds the job from the environment; elsewhere
    (e.g. CPU hosts) set JAX_COORDINATOR_ADDRESS=host:port, TRAIN_KIT_NUM_PROCESSES and
    TRAIN_KIT_PROCESS_ID."""
    if not cfg.multihost or jax.distributed.is_initialized():
        return
    from jax._src import xla_bridge

    if xla_bridge.backends_are_initialized():
        raise ConfigError(
            "mesh.multihost: the JAX backend was used before jax.distributed could "
            "be initialised; initialise first (train_kit.driver.train does)"
        )
    count, index = os.environ.get("TRAIN_KIT_NUM_PROCESSES"), os.environ.get("TRAIN_KIT_PROCESS_ID")
    kwargs = {}
    if count is not None and index is not None:
        kwargs = dict(num_processes=int(count), process_id=int(index))
    jax.distributed.initialize(**kwargs)


def mesh_shape(cfg: MeshConfig, num_devices: int) -> tuple[int, int, int]:
    sizes = [cfg.data, cfg.fsdp, cfg.tensor]
    known = math.prod(s for s in sizes if s != -1)
    if -1 in sizes:
        if num_devices % known:
            raise ConfigError(f"mesh {tuple(sizes)} does not divide {num_devices} devices")
        sizes[sizes.index(-1)] = num_devices // known
    if math.prod(sizes) != num_devices:
        raise ConfigError(f"mesh {tuple(sizes)} needs {math.prod(sizes)} devices, have {num_devices}")
    return tuple(sizes)


def make_mesh(cfg: MeshConfig = MeshConfig(), devices=None) -> jax.sharding.Mesh:
    """A mesh over all devices (or `devices`), axes ("data", "fsdp", "tensor"), Auto axis types."""
    devices = list(jax.devices() if devices is None else devices)
    shape = mesh_shape(cfg, len(devices))
    types = (AxisType.Auto,) * len(AXES)
    if len(devices) == jax.device_count():
        # Let JAX order devices along the physical topology (ICI rings on TPU).
        return jax.make_mesh(shape, AXES, axis_types=types, devices=devices)
    return jax.sharding.Mesh(np.asarray(devices).reshape(shape), AXES, axis_types=types)


def per_process_batch(batch_size: int, mesh, key: str = "data.batch_size") -> int:
    """This process's share of a global batch, which must split over the data-parallel devices
    (data x fsdp) and over the processes."""
    split, n_proc = mesh.shape["data"] * mesh.shape["fsdp"], jax.process_count()
    if batch_size < 1 or batch_size % split or batch_size % n_proc:
        raise ConfigError(
            f"{key}={batch_size} must be a positive multiple of the {split} "
            f"data-parallel devices (mesh data x fsdp) and of the {n_proc} processes"
        )
    return batch_size // n_proc


def batch_sharding(mesh, ndim: int = 1) -> NamedSharding:
    """Batch axis split over (data, fsdp); the other `ndim - 1` axes replicated."""
    return NamedSharding(mesh, P(BATCH_AXES, *([None] * (ndim - 1))))


def global_batch(per_process_batch, mesh):
    """Turn this process's NumPy slice of every leaf into a global jax Array.

    Each leaf's axis 0 is this process's share of the global batch; the global batch size is
    that times the number of processes. Works unchanged on one host.
    """

    def put(x):
        x = np.asarray(x)
        return jax.make_array_from_process_local_data(batch_sharding(mesh, x.ndim), x)

    return jax.tree.map(put, per_process_batch)


def batch_shardings(batch, mesh):
    """The shardings `global_batch` gives to a batch tree (for jit in_shardings)."""
    return jax.tree.map(lambda x: batch_sharding(mesh, np.ndim(x)), batch)

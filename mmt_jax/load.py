"""Reading a trained or converted MMT for inference, without any training code.

    params, cfg = load(path)             # the run's exported parameters (run.json + params/)
    params, cfg = load(path, step=600)   # the parameters of training checkpoint checkpoints/600

`path` is a run folder written by `mmt-jax train` (its --out) or `mmt-jax convert-reference`
(train_kit.run's format, system "mmt"). `cfg` is the full mmt_jax.config.Config of the run
(`cfg.model` is the MMTConfig); `params` are NumPy arrays whose names and shapes have been checked
against that model. A folder that is missing, of another system, of an old format or without
its parameters is a one-line RunError (a UserError). With `step`, the config still comes from
run.json, and only the params subtree of that checkpoint's train state is read (with orbax, so
no optimiser needs to be rebuilt).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mmt_jax.config import Config, MMTConfig

SYSTEM = "mmt"


def _abstract(model: MMTConfig):
    import jax
    from flax import linen as nn

    from mmt_jax.model import abstract_params

    return jax.tree.map(
        lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype), nn.meta.unbox(abstract_params(model))
    )


def _config(info: dict, path) -> Config:
    from train_kit.config import ConfigError, from_dict
    from train_kit.run import RunError

    try:
        return from_dict(Config, info["config"])
    except (ConfigError, ValueError) as err:
        raise RunError(f"{path}: run.json does not hold an MMT config: {err}") from err


def _checkpoint_params(path, step: int, abstract):
    """The params of `<path>/checkpoints/<step>`'s train state, as NumPy."""
    import jax
    import orbax.checkpoint as ocp

    from train_kit.run import RunError

    root = Path(path).absolute() / "checkpoints"
    state = root / str(int(step)) / "state"
    if not state.is_dir():
        have = sorted(int(p.name) for p in root.iterdir() if p.name.isdigit()) if root.is_dir() else []
        raise RunError(f"{path}: no training checkpoint for step {step} (have {have or 'none'})")
    item = {"params": abstract}
    args = {"params": jax.tree.map(lambda _: ocp.RestoreArgs(restore_type=np.ndarray), abstract)}
    try:
        with ocp.PyTreeCheckpointer() as ckptr:
            out = ckptr.restore(
                state, args=ocp.args.PyTreeRestore(item=item, restore_args=args, partial_restore=True)
            )
    except Exception as err:  # orbax raises assorted types for damaged or mismatched folders
        first = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise RunError(f"{state}: cannot read the parameters: {first[:300]}") from err
    return out["params"]


def load(path, step: int | None = None):
    """(params as NumPy, Config) of an MMT run folder; see the module docstring."""
    from train_kit.run import check_params, load_run, read_run_info

    if step is None:
        run = load_run(path, system=SYSTEM)
        cfg = _config(run.info, path)
        abstract = _abstract(cfg.model)
        params = run.params
    else:
        cfg = _config(read_run_info(path, system=SYSTEM), path)
        abstract = _abstract(cfg.model)
        params = _checkpoint_params(path, step, abstract)
    return check_params(params, abstract, where=str(path)), cfg

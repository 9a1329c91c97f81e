"""The run folder: one format for every system's trained (or converted) model.

    <run>/run.json     {"format": 1, "system": "mmt", "config": {...}, "step": 600,
                        "metrics": {...}, "versions": {...}, "created": ..., **extra}
    <run>/params/      the parameters as an orbax PyTree checkpoint (NumPy arrays)
    <run>/checkpoints/ training checkpoints (train state + data position), when trained here

    save_run(run_dir, system=..., config=cfg, params=host_params, step=..., metrics=..., **extra)
    run = load_run(run_dir, system="mmt")   # Run(path, system, config dict, step, metrics,
                                            #     info (the whole run.json), params as NumPy)
    read_run_info(run_dir)                  # run.json alone, no arrays read

`save_run` is atomic: the new `params/` and `run.json` are complete on disk before they replace
the old ones, so a crash or a full disk mid-export leaves the previous export intact. Every
process calls it (orbax saves are collective); only process 0 writes files. `load_run` needs no
model code: systems rebuild their config with `train_kit.config.from_dict(Config, run.config)`
and check the parameter shapes against their model (`check_params`).
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import os
import shutil
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from music_codecs.atomic import atomic_file
from music_codecs.errors import UserError
from train_kit.config import to_dict

RUN_FILE = "run.json"
PARAMS_DIR = "params"
FORMAT = 1
_VERSIONED = ("music-gen-jax", "jax", "jaxlib", "flax", "optax", "orbax-checkpoint", "numpy")

# Files that earlier versions wrote instead of run.json, and how to bring such a run forward.
_LEGACY = {
    "experiment.json": "an Arranger run in the old format: rerun the same `arranger-jax train "
    "--config ... --out {path}` (it resumes from its checkpoints and exports run.json), "
    "or `arranger-jax convert-reference` for converted weights",
    "clipsonic.json": "a CLIPSonic run in the old format: rerun the same `clipsonic-jax train "
    "--config ... --out {path}` (it resumes from its checkpoints and exports run.json)",
    "train-config.json": "an MMT run in the old format: rerun the same `mmt-jax train --config ... "
    "--out {path}` (it resumes from its checkpoints and exports run.json)",
    "config.json": "an MMT conversion in the old format: run `mmt-jax convert-reference` again",
}


class RunError(UserError):
    """A run folder that is missing, incomplete, of another system or of an old format."""


@dataclasses.dataclass
class Run:
    path: Path
    system: str
    config: dict
    step: int | None
    metrics: dict
    info: dict  # the whole run.json (system-specific extras included)
    params: Any  # NumPy pytree


def library_versions() -> dict:
    out = {"python": sys.version.split()[0]}
    for name in _VERSIONED:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return out


def _write_json_atomic(path: Path, obj) -> None:
    with atomic_file(path) as f:
        f.write((json.dumps(obj, indent=2) + "\n").encode())


def _floats(metrics) -> dict:
    return {k: float(v) for k, v in (metrics or {}).items()}


def _sync(name):
    import jax

    if jax.process_count() > 1:
        from jax.experimental import multihost_utils

        multihost_utils.sync_global_devices(name)


def save_run(run_dir, *, system: str, config, params, step=None, metrics=None, **extra) -> Path:
    """Export `params` (a host NumPy pytree, the same on every process) and run.json."""
    import jax
    import orbax.checkpoint as ocp

    run_dir = Path(run_dir).absolute()
    primary = jax.process_index() == 0
    try:
        if primary:
            run_dir.mkdir(parents=True, exist_ok=True)
        _sync("train_kit.run.mkdir")
        staged, final, old = run_dir / "params.new", run_dir / PARAMS_DIR, run_dir / "params.old"
        host = jax.tree.map(np.asarray, params)
        with ocp.StandardCheckpointer() as ckptr:
            ckptr.save(staged, host, force=True)
        if primary:
            if final.exists():
                os.replace(final, old)
            os.replace(staged, final)
            shutil.rmtree(old, ignore_errors=True)
            info = {
                "format": FORMAT,
                "system": system,
                "config": to_dict(config),
                "step": None if step is None else int(step),
                "metrics": _floats(metrics),
                "versions": library_versions(),
                "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                **to_dict(extra),
            }
            _write_json_atomic(run_dir / RUN_FILE, info)
        _sync("train_kit.run.saved")
    except OSError as err:
        _discard_staged(run_dir, primary)
        raise RunError(
            f"{run_dir}: cannot write the run ({err.strerror or err}); "
            f"the previous export, if any, is unchanged"
        ) from err
    except BaseException:  # orbax wraps a full disk in its own types: clean up, report upstream
        _discard_staged(run_dir, primary)
        raise
    return run_dir


def _discard_staged(run_dir, primary):
    """Remove a half-written params.new (and orbax's temporary folder for it)."""
    if primary:
        for name in ("params.new", "params.new.orbax-checkpoint-tmp"):
            shutil.rmtree(run_dir / name, ignore_errors=True)


def update_run_info(run_dir, **fields) -> dict:
    """Merge `fields` into run.json (e.g. test metrics computed after the export)."""
    info = read_run_info(run_dir)
    if "metrics" in fields:
        fields["metrics"] = _floats(fields["metrics"])
    for key, value in to_dict(fields).items():
        info[key] = (
            {**info[key], **value} if isinstance(info.get(key), dict) and isinstance(value, dict) else value
        )
    _write_json_atomic(Path(run_dir) / RUN_FILE, info)
    return info


def read_run_info(run_dir, system: str | None = None) -> dict:
    """run.json of `run_dir`; a one-line RunError for anything that is not a loadable run."""
    path = Path(run_dir)
    if not path.is_dir():
        raise RunError(f"{path}: no such run folder")
    meta = path / RUN_FILE
    if not meta.is_file():
        for name, how in _LEGACY.items():
            if (path / name).is_file():
                raise RunError(f"{path}: {how.format(path=path)}")
        raise RunError(
            f"{path}: not a run folder (no {RUN_FILE}); train one with "
            f"`{system or '<system>'}-jax train` or name another folder"
        )
    try:
        info = json.loads(meta.read_text())
    except (OSError, ValueError) as err:
        raise RunError(f"{meta}: unreadable ({err}); export the run again") from err
    if not isinstance(info, dict) or "system" not in info or "config" not in info:
        raise RunError(f"{meta}: not a run description (needs 'system' and 'config')")
    if info.get("format", 0) > FORMAT:
        raise RunError(
            f"{meta}: run format {info['format']} is newer than this library "
            f"understands ({FORMAT}); upgrade music-gen-jax"
        )
    if system is not None and info["system"] != system:
        raise RunError(f"{path}: a {info['system']} run, not a {system} one")
    return info


def load_params(run_dir):
    """The exported parameters of a run as a NumPy pytree."""
    import orbax.checkpoint as ocp

    target = Path(run_dir).absolute() / PARAMS_DIR
    if not target.is_dir():
        raise RunError(
            f"{run_dir}: run.json but no {PARAMS_DIR}/ (an interrupted export?); export the run again"
        )
    try:
        with ocp.StandardCheckpointer() as ckptr:
            return ckptr.restore(target)
    except Exception as err:  # orbax raises assorted types for damaged folders
        first = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise RunError(f"{target}: cannot read the parameters: {first[:300]}") from err


def load_run(run_dir, system: str | None = None) -> Run:
    info = read_run_info(run_dir, system)
    return Run(
        Path(run_dir),
        info["system"],
        info["config"],
        info.get("step"),
        info.get("metrics", {}),
        info,
        load_params(run_dir),
    )


def check_params(params, expected, where) -> Any:
    """`params` cast to the dtypes of `expected` (a pytree of arrays or ShapeDtypeStructs) after
    checking that both have the same keys and shapes; RunError names the first mismatch."""
    import jax

    got = dict(jax.tree_util.tree_flatten_with_path(params)[0])
    want = dict(jax.tree_util.tree_flatten_with_path(expected)[0])
    names = {jax.tree_util.keystr(k): k for k in got}
    wanted = {jax.tree_util.keystr(k): k for k in want}
    for key in sorted(set(wanted) - set(names)):
        raise RunError(f"{where}: parameter {key} is missing; the run does not fit this model")
    for key in sorted(set(names) - set(wanted)):
        raise RunError(f"{where}: unexpected parameter {key}; the run does not fit this model")
    for key, path in wanted.items():
        have, need = got[names[key]], want[path]
        if tuple(np.shape(have)) != tuple(need.shape):
            raise RunError(
                f"{where}: parameter {key} has shape {tuple(np.shape(have))}, the model "
                f"needs {tuple(need.shape)}"
            )
    return jax.tree.map(lambda p, e: np.asarray(p, e.dtype), params, expected)

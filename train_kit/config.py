"""Experiment configs as Python files, plus the config sections every system shares.

An experiment config is a Python file defining `get_config()` that returns a frozen dataclass
(usually with nested dataclass sections) or a dict of them. `load_config(path, overrides)` imports
the file, calls `get_config()` and applies `"section.key=value"` overrides (values are Python
literals; a bare word is a string). An unknown key or a value of the wrong type raises
`ConfigError` (a `UserError`), one line naming the key and the valid keys.

Shared sections:
  MeshConfig    data / fsdp / tensor sizes (-1 absorbs the remaining devices), multihost flag
  OptimConfig   adam/adamw, warm-up + linear/cosine/constant decay to a floor, clipping,
                gradient accumulation, bf16 compute
  TrainConfig   loop settings: max_steps, eval/ckpt/log periods, keep_last, best metric,
                patience, seed, out_dir

Public API: ConfigError, MeshConfig, OptimConfig, TrainConfig, load_config, apply_overrides,
to_dict.
"""
from __future__ import annotations

import ast
import dataclasses
import importlib.util
import os
import typing
from typing import Any

from music_codecs.errors import UserError


class ConfigError(UserError):
    """A config file or override that cannot be used (unknown key, bad value, missing file)."""


def _check_choice(name, value, choices):
    if value not in choices:
        raise ConfigError(f"{name}={value!r} is not allowed; choose one of {', '.join(map(repr, choices))}")


@dataclasses.dataclass(frozen=True)
class MeshConfig:
    """Device mesh sizes along ("data", "fsdp", "tensor"); one size may be -1 (the rest)."""
    data: int = -1
    fsdp: int = 1
    tensor: int = 1
    multihost: bool = False  # call jax.distributed.initialize() before touching devices

    def __post_init__(self):
        sizes = (self.data, self.fsdp, self.tensor)
        if sum(s == -1 for s in sizes) > 1 or any(s == 0 or s < -1 for s in sizes):
            raise ConfigError(f"mesh sizes {sizes} are invalid: use positive sizes and at most one -1")


@dataclasses.dataclass(frozen=True)
class OptimConfig:
    """Optimiser and learning-rate schedule.

    The multiplier of `lr` at optimiser step s (0-based) is:
      warm-up, s < warmup_steps:     (s + warmup_offset) / warmup_steps
      decay, warmup_steps <= s:      from 1.0 at warmup_steps to final_lr_fraction at decay_steps
                                     ("linear" or "cosine"; "constant" stays at 1.0)
      after decay_steps:             final_lr_fraction
    MMT: warmup_steps=5000, warmup_offset=1, decay="linear", decay_steps=100000,
    final_lr_fraction=0.1.
    """
    name: str = "adam"          # "adam" | "adamw"
    lr: float = 1e-3
    b1: float = 0.9
    b2: float = 0.999
    eps: float = 1e-8
    weight_decay: float = 0.0   # adamw only (decoupled)
    warmup_steps: int = 0
    warmup_offset: int = 0      # 1 gives PyTorch LambdaLR's (s+1)/W warm-up
    decay: str = "constant"     # "linear" | "cosine" | "constant"
    decay_steps: int = 0        # absolute step where the decay reaches the floor
    final_lr_fraction: float = 0.0
    clip_norm: float = 0.0      # global-norm clipping; 0 disables
    grad_accum_steps: int = 1   # optax.MultiSteps: one update every k micro-batches
    mixed_precision: bool = False  # bf16 compute, f32 master parameters

    def __post_init__(self):
        _check_choice("optim.name", self.name, ("adam", "adamw"))
        _check_choice("optim.decay", self.decay, ("linear", "cosine", "constant"))
        if self.grad_accum_steps < 1:
            raise ConfigError(f"optim.grad_accum_steps={self.grad_accum_steps} must be >= 1")

    def validate(self):
        """Cross-field checks, run by make_optimizer (overrides are applied one at a time)."""
        if self.decay != "constant" and self.decay_steps <= self.warmup_steps:
            raise ConfigError(f"optim.decay_steps={self.decay_steps} must exceed "
                              f"optim.warmup_steps={self.warmup_steps} for {self.decay!r} decay")
        return self


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Fit-loop settings. Steps count train-step calls (micro-batches with accumulation)."""
    max_steps: int = 1000
    eval_every: int = 0          # 0: no periodic evaluation
    ckpt_every: int = 0          # 0: checkpoint only at the end and on SIGTERM
    keep_last: int = 3
    keep_best_metric: str = ""   # e.g. "eval_loss": also keep the best checkpoint by it
    best_mode: str = "min"       # "min" | "max"
    patience: int = 0            # stop after this many evaluations without improvement; 0: never
    log_every: int = 50
    seed: int = 0
    out_dir: str = ""
    async_checkpoints: bool = True

    def __post_init__(self):
        _check_choice("train.best_mode", self.best_mode, ("min", "max"))
        if self.max_steps < 0 or self.log_every < 1:
            raise ConfigError("train.max_steps must be >= 0 and train.log_every >= 1")


# --------------------------------------------------------------------------- loading

def load_config(path, overrides=()):
    """Import the Python file at `path`, call its `get_config()`, apply `overrides`."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ConfigError(f"{path}: config file not found")
    spec = importlib.util.spec_from_file_location(f"_config_{abs(hash(path))}", path)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except ConfigError:
        raise
    except Exception as err:  # a broken config file is the user's problem, reported in one line
        raise ConfigError(f"{path}: cannot import config: {type(err).__name__}: {err}") from err
    if not hasattr(module, "get_config"):
        raise ConfigError(f"{path}: defines no get_config()")
    return apply_overrides(module.get_config(), overrides)


def apply_overrides(cfg, overrides=()):
    """Return `cfg` with each `"a.b.c=value"` override applied (dataclasses are replaced, not mutated)."""
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"override {item!r} is not of the form key=value")
        key, text = item.split("=", 1)
        cfg = _set(cfg, key.strip().split("."), text.strip(), key.strip())
    return cfg


def _keys(node):
    if dataclasses.is_dataclass(node):
        return [f.name for f in dataclasses.fields(node)]
    return list(node.keys())


def _get(node, name):
    return getattr(node, name) if dataclasses.is_dataclass(node) else node[name]


def _set(node, parts, text, full_key):
    if not (dataclasses.is_dataclass(node) or isinstance(node, dict)):
        raise ConfigError(f"{full_key}: cannot set a key inside a {type(node).__name__} value")
    name = parts[0]
    keys = _keys(node)
    if name not in keys:
        raise ConfigError(f"unknown config key {full_key!r}; valid keys here: {', '.join(keys)}")
    current = _get(node, name)
    if len(parts) > 1:
        value = _set(current, parts[1:], text, full_key)
    else:
        value = _parse(text, current, _field_type(node, name), full_key)
    if dataclasses.is_dataclass(node):
        try:
            return dataclasses.replace(node, **{name: value})
        except ConfigError:
            raise
        except (TypeError, ValueError) as err:
            raise ConfigError(f"{full_key}={text}: {err}") from err
    return {**node, name: value}


def _field_type(node, name):
    if dataclasses.is_dataclass(node):
        try:
            return typing.get_type_hints(type(node)).get(name)
        except Exception:  # unresolvable annotations: fall back to the current value's type
            return None
    return None


def _parse(text, current, hint, key):
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        value = {"true": True, "false": False}.get(text.lower(), text)  # else a bare word: a string
    if hint is Any:  # isinstance(Any, type) is True on 3.11, but Any checks nothing
        return value
    expected = type(current) if current is not None else None
    if hint is not None and typing.get_origin(hint) is None and isinstance(hint, type):
        expected = hint
    if expected is None or isinstance(value, expected) and not (expected is int and isinstance(value, bool)):
        return value
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if expected is tuple and isinstance(value, list):
        return tuple(value)
    if expected is str:
        return text
    raise ConfigError(f"{key}={text!r}: expected a {expected.__name__}, got {type(value).__name__}")


def to_dict(cfg) -> Any:
    """A JSON-able view of a config (for logs and checkpoint metadata)."""
    if dataclasses.is_dataclass(cfg):
        return {f.name: to_dict(getattr(cfg, f.name)) for f in dataclasses.fields(cfg)}
    if isinstance(cfg, dict):
        return {k: to_dict(v) for k, v in cfg.items()}
    if isinstance(cfg, (list, tuple)):
        return [to_dict(v) for v in cfg]
    return cfg

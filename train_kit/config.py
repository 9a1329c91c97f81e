"""Experiment configs as Python files, plus the config sections every system shares.

An experiment config is a Python file defining `get_config()` that returns a frozen dataclass
(usually with nested dataclass sections) or a dict of them. `load_config(path, overrides)` imports
the file, calls `get_config()` and applies `"section.key=value"` overrides (values are Python
literals; a bare word is a string). An unknown key or a value of the wrong type raises
`ConfigError` (a `UserError`), one line naming the key and the valid keys.

Shared sections:
  MeshConfig    data / fsdp / tensor sizes (-1 absorbs the remaining devices), multihost flag,
                the logical-axis rules table
  OptimConfig   adam/adamw, warm-up + linear/cosine/constant decay to a floor, clipping,
                gradient accumulation, bf16 compute
  TrainConfig   loop settings: max_steps, eval/ckpt/log periods, keep_last, best metric,
                patience, seed, out_dir

`to_dict(cfg)` gives the JSON view written into run folders and `from_dict(cls, d)` rebuilds the
dataclass from it (nested dataclasses, tuples, enums), refusing unknown keys.

`check_ranges(cfg)` (run by load_config) refuses numeric fields outside their meaningful range
(sizes > 0, periods >= 0, probabilities in [0, 1), every float finite), naming the key.

Public API: ConfigError, MeshConfig, OptimConfig, TrainConfig, DEFAULT_RULES, load_config,
apply_overrides, check_ranges, to_dict, from_dict.
"""

from __future__ import annotations

import ast
import dataclasses
import enum
import importlib.machinery
import importlib.util
import math
import os
import types
import typing
from typing import Any

from music_codecs.errors import UserError


class ConfigError(UserError):
    """A config file or override that cannot be used (unknown key, bad value, missing file)."""


def _check_choice(name, value, choices):
    if value not in choices:
        raise ConfigError(f"{name}={value!r} is not allowed; choose one of {', '.join(map(repr, choices))}")


# (logical name, mesh axes) for parameters and activations. Earlier rules win; a later rule for
# the same name is the fallback when its mesh axis is already taken in that array.
DEFAULT_RULES = (
    ("batch", ("data", "fsdp")),  # activations: batch split over every data-parallel axis
    ("length", None),
    ("embed", "fsdp"),  # parameters: FSDP shards the model dimension
    ("mlp", "tensor"),  # Megatron-style tensor parallel for MLP and attention
    ("heads", "tensor"),
    ("kv", None),
    ("joined_kv", "tensor"),
    ("vocab", "tensor"),
    ("conv_in", "fsdp"),  # conv kernels [..., in, out]
    ("conv_out", "tensor"),
    ("channels", None),  # conv activations [batch, h, w, channels]
    ("height", None),
    ("width", None),
    ("layers", None),  # nn.scan-stacked layer axis
    ("norm", None),
)
MESH_AXES = ("data", "fsdp", "tensor")


def _normalise_rules(rules):
    """Rules as hashable tuples; axes None, one axis name or a tuple of them."""
    out = []
    for rule in rules:
        if not (isinstance(rule, (list, tuple)) and len(rule) == 2 and isinstance(rule[0], str)):
            raise ConfigError(f"mesh.rules entry {rule!r} is not a (logical name, mesh axes) pair")
        name, axes = rule
        axes = tuple(axes) if isinstance(axes, (list, tuple)) else axes
        for axis in axes if isinstance(axes, tuple) else (axes,):
            if axis is not None and axis not in MESH_AXES:
                raise ConfigError(
                    f"mesh.rules: {name!r} -> {axis!r} is not a mesh axis ({', '.join(MESH_AXES)})"
                )
        out.append((name, axes))
    return tuple(out)


@dataclasses.dataclass(frozen=True)
class MeshConfig:
    """Device mesh sizes along ("data", "fsdp", "tensor"); one size may be -1 (the rest).
    `rules` maps the models' logical axis names to those mesh axes."""

    data: int = -1
    fsdp: int = 1
    tensor: int = 1
    multihost: bool = False  # call jax.distributed.initialize() before touching devices
    rules: tuple = DEFAULT_RULES

    def __post_init__(self):
        sizes = (self.data, self.fsdp, self.tensor)
        if sum(s == -1 for s in sizes) > 1 or any(s == 0 or s < -1 for s in sizes):
            raise ConfigError(f"mesh sizes {sizes} are invalid: use positive sizes and at most one -1")
        object.__setattr__(self, "rules", _normalise_rules(self.rules))


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

    name: str = "adam"  # "adam" | "adamw"
    lr: float = 1e-3
    b1: float = 0.9
    b2: float = 0.999
    eps: float = 1e-8
    weight_decay: float = 0.0  # adamw only (decoupled)
    warmup_steps: int = 0
    warmup_offset: int = 0  # 1 gives PyTorch LambdaLR's (s+1)/W warm-up
    decay: str = "constant"  # "linear" | "cosine" | "constant"
    decay_steps: int = 0  # absolute step where the decay reaches the floor
    final_lr_fraction: float = 0.0
    clip_norm: float = 0.0  # global-norm clipping; 0 disables
    grad_accum_steps: int = 1  # optax.MultiSteps: one update every k micro-batches
    mixed_precision: bool = False  # bf16 compute, f32 master parameters

    def __post_init__(self):
        _check_choice("optim.name", self.name, ("adam", "adamw"))
        _check_choice("optim.decay", self.decay, ("linear", "cosine", "constant"))
        if self.grad_accum_steps < 1:
            raise ConfigError(f"optim.grad_accum_steps={self.grad_accum_steps} must be >= 1")
        for name in ("lr", "weight_decay", "clip_norm", "warmup_steps", "warmup_offset", "decay_steps"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
                raise ConfigError(f"optim.{name}={value!r} must be a finite number >= 0")

    def validate(self):
        """Cross-field checks, run by make_optimizer (overrides are applied one at a time)."""
        if self.decay != "constant" and self.decay_steps <= self.warmup_steps:
            raise ConfigError(
                f"optim.decay_steps={self.decay_steps} must exceed "
                f"optim.warmup_steps={self.warmup_steps} for {self.decay!r} decay"
            )
        return self


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Fit-loop settings. Steps count train-step calls (micro-batches with accumulation)."""

    max_steps: int = 1000
    eval_every: int = 0  # 0: no periodic evaluation
    ckpt_every: int = 0  # 0: checkpoint only at the end and on SIGTERM
    keep_last: int = 3
    keep_best_metric: str = ""  # e.g. "eval_loss": also keep the best checkpoint by it
    best_mode: str = "min"  # "min" | "max"
    patience: int = 0  # stop after this many evaluations without improvement; 0: never
    log_every: int = 50
    seed: int = 0
    out_dir: str = ""
    async_checkpoints: bool = True

    def __post_init__(self):
        _check_choice("train.best_mode", self.best_mode, ("min", "max"))
        if self.max_steps < 0 or self.log_every < 1:
            raise ConfigError("train.max_steps must be >= 0 and train.log_every >= 1")
        for name in ("eval_every", "ckpt_every", "patience"):
            if getattr(self, name) < 0:
                raise ConfigError(f"train.{name}={getattr(self, name)} must be >= 0 (0 turns it off)")
        if self.keep_last < 1:
            raise ConfigError(f"train.keep_last={self.keep_last} must be >= 1")


# --------------------------------------------------------------------------- loading


def load_config(path, overrides=()):
    """Import the Python file at `path`, call its `get_config()`, apply `overrides`."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ConfigError(f"{path}: config file not found")
    name = f"_config_{abs(hash(path))}"
    # any file name (not only *.py) is read as Python source
    spec = importlib.util.spec_from_loader(name, importlib.machinery.SourceFileLoader(name, path))
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except ConfigError:
        raise
    except Exception as err:  # a broken config file is the user's problem, reported in one line
        raise ConfigError(f"{path}: cannot import config: {type(err).__name__}: {err}") from err
    if not hasattr(module, "get_config"):
        raise ConfigError(f"{path}: defines no get_config()")
    try:
        cfg = module.get_config()
    except ConfigError as err:
        raise ConfigError(f"{path}: {err}") from err
    except Exception as err:  # the user's code (or a dataclass check it triggered) failed
        raise ConfigError(f"{path}: get_config() failed: {type(err).__name__}: {err}") from err
    cfg = apply_overrides(cfg, overrides)
    check_ranges(cfg)
    return cfg


# --------------------------------------------------------------------------- value ranges

# Numeric fields with a meaningful range, by field name, wherever they sit in a config (every
# system's sections use these names). A range failure names the full key, e.g. data.batch_size.
_POSITIVE = frozenset(
    "batch_size eval_batch_size dim depth heads head_dim dim_head ff_mult max_seq_len units "
    "layers ffn_units num_parts max_positions seq_len max_eval_len channels cond_dim groups "
    "res_blocks n_fft n_mels hop_length win_length sample_rate clip_samples timesteps "
    "num_timesteps sample_timesteps steps candidates latent d_dense g_dense g_pitch_channels "
    "encoder_channels temporal_hidden n_critic eval_samples bars beat_resolution max_beat "
    "pad_multiple max_text_len rel_pos_buckets rel_pos_max_distance width griffin_lim_iters "
    "log_every grad_accum_steps eps lr_eps cosine_sim_scale".split()
)
_NON_NEGATIVE = frozenset(
    "max_steps eval_every ckpt_every patience warmup_steps warmup_offset decay_steps "
    "eval_max_batches prepare_limit synthetic_clips eval_every_nth lr weight_decay clip_norm "
    "gp_weight guidance eta fmin image_embed_scale log_floor".split()
)
_FRACTION = frozenset("dropout attn_dropout ff_dropout cond_drop".split())  # [0, 1)
_UNIT = frozenset("b1 b2 final_lr_fraction bn_momentum".split())  # [0, 1]


def _range_problem(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return "must be a finite number"
    if name in _POSITIVE and not value > 0:
        return "must be > 0"
    if name in _NON_NEGATIVE and not value >= 0:
        return "must be >= 0 (0 turns it off where that has a meaning)"
    if name in _FRACTION and not 0 <= value < 1:
        return "must be in [0, 1)"
    if name in _UNIT and not 0 <= value <= 1:
        return "must be in [0, 1]"
    return None


def check_ranges(cfg, prefix=""):
    """Refuse (ConfigError naming the key) a numeric field outside its meaningful range: sizes
    and widths > 0, periods and counts >= 0, rates and probabilities in their unit range, every
    float finite. Runs on every loaded config, after the overrides."""
    if dataclasses.is_dataclass(cfg):
        items = [(f.name, getattr(cfg, f.name)) for f in dataclasses.fields(cfg)]
    elif isinstance(cfg, dict):
        items = [(k, v) for k, v in cfg.items() if isinstance(k, str)]
    else:
        return
    for name, value in items:
        key = f"{prefix}{name}"
        if dataclasses.is_dataclass(value) or isinstance(value, dict):
            check_ranges(value, f"{key}.")
            continue
        problem = _range_problem(name, value)
        if problem:
            raise ConfigError(f"{key}={value!r} {problem}")


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
    """A JSON-able view of a config (for logs and run folders); `from_dict` inverts it."""
    if dataclasses.is_dataclass(cfg):
        return {f.name: to_dict(getattr(cfg, f.name)) for f in dataclasses.fields(cfg)}
    if isinstance(cfg, dict):
        return {k: to_dict(v) for k, v in cfg.items()}
    if isinstance(cfg, (list, tuple)):
        return [to_dict(v) for v in cfg]
    if isinstance(cfg, enum.Enum):
        return cfg.value
    return cfg


def from_dict(cls, d, where=""):
    """Rebuild dataclass `cls` from `to_dict` output. Nested dataclasses, tuples (also nested,
    e.g. rule tables) and enums come back typed; a missing key keeps its default; an unknown key
    or a bad value raises ConfigError naming it."""
    where = where or cls.__name__
    if not isinstance(d, dict):
        raise ConfigError(f"{where}: expected a mapping, got {type(d).__name__}")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls) if f.init]
    unknown = sorted(set(d) - set(names))
    if unknown:
        raise ConfigError(f"{where}: unknown keys {', '.join(unknown)}; valid keys: {', '.join(names)}")
    kwargs = {k: _typed(d[k], hints.get(k), f"{where}.{k}") for k in names if k in d}
    try:
        return cls(**kwargs)
    except ConfigError:
        raise
    except (TypeError, ValueError) as err:
        raise ConfigError(f"{where}: {err}") from err


def _typed(value, hint, where):
    """`value` (from JSON) converted to the type `hint` names, where that is a container type."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(hint) if a is not type(None)]
        return value if value is None or len(options) != 1 else _typed(value, options[0], where)
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return from_dict(hint, value, where)
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return hint(value)
    if (hint is tuple or origin is tuple) and isinstance(value, list):
        return _deep_tuple(value)
    return value


def _deep_tuple(value):
    return tuple(_deep_tuple(v) for v in value) if isinstance(value, (list, tuple)) else value

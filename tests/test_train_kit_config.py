"""Config files, overrides and their one-line errors."""

import dataclasses

import pytest

from music_codecs.errors import UserError
from train_kit.config import ConfigError, MeshConfig, OptimConfig, TrainConfig, load_config, to_dict

CONFIG = """
import dataclasses
from train_kit.config import MeshConfig, OptimConfig, TrainConfig

@dataclasses.dataclass(frozen=True)
class ModelConfig:
    layers: int = 6
    dims: tuple = (512, 512)
    name: str = "mmt"

@dataclasses.dataclass(frozen=True)
class Config:
    model: ModelConfig = ModelConfig()
    optim: OptimConfig = OptimConfig(lr=5e-4)
    train: TrainConfig = TrainConfig()
    mesh: MeshConfig = MeshConfig()

def get_config():
    return Config()
"""


@pytest.fixture
def path(tmp_path):
    p = tmp_path / "exp.py"
    p.write_text(CONFIG)
    return p


def test_overrides_apply_with_types(path):
    cfg = load_config(
        path,
        [
            "optim.lr=1e-3",
            "model.layers=2",
            "optim.decay=cosine",
            "optim.decay_steps=100",
            "train.out_dir=/tmp/x",
            "mesh.fsdp=2",
            "mesh.multihost=true",
            "optim.b1=1",
            "model.dims=[8, 16]",
        ],
    )
    assert cfg.optim.lr == 1e-3 and cfg.model.layers == 2 and cfg.optim.decay == "cosine"
    assert cfg.train.out_dir == "/tmp/x" and cfg.mesh.fsdp == 2 and cfg.mesh.multihost is True
    assert cfg.optim.b1 == 1.0 and isinstance(cfg.optim.b1, float)
    assert cfg.model.dims == (8, 16)
    assert load_config(path).optim.lr == 5e-4  # the file itself is untouched
    assert to_dict(cfg)["optim"]["lr"] == 1e-3


def test_dict_configs(tmp_path):
    p = tmp_path / "d.py"
    p.write_text(
        "from train_kit.config import OptimConfig\n"
        "def get_config():\n    return {'optim': OptimConfig(), 'steps': 3}\n"
    )
    cfg = load_config(p, ["optim.lr=0.5", "steps=4"])
    assert cfg["optim"].lr == 0.5 and cfg["steps"] == 4


@pytest.mark.parametrize(
    "override, message",
    [
        ("optim.lrr=1", "unknown config key 'optim.lrr'; valid keys here: name, lr, b1"),
        ("nope.lr=1", "unknown config key 'nope.lr'; valid keys here: model, optim, train, mesh"),
        ("model.layers=two", "model.layers='two': expected a int, got str"),
        ("optim.decay=step", "optim.decay='step' is not allowed"),
        ("mesh.data=0", "mesh sizes"),
        ("optim.lr", "not of the form key=value"),
        ("optim.lr.x=1", "cannot set a key inside a float"),
    ],
)
def test_bad_overrides_raise_one_line_config_errors(path, override, message):
    with pytest.raises(ConfigError) as info:
        load_config(path, [override])
    assert message in str(info.value)
    assert "\n" not in str(info.value)
    assert isinstance(info.value, UserError)


def test_missing_or_broken_config_files(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "missing.py")
    (tmp_path / "bad.py").write_text("raise RuntimeError('boom')\n")
    with pytest.raises(ConfigError, match="cannot import config: RuntimeError: boom"):
        load_config(tmp_path / "bad.py")
    (tmp_path / "empty.py").write_text("x = 1\n")
    with pytest.raises(ConfigError, match="defines no get_config"):
        load_config(tmp_path / "empty.py")


def test_sections_are_frozen_and_validated():
    with pytest.raises(dataclasses.FrozenInstanceError):
        OptimConfig().lr = 1.0
    with pytest.raises(ConfigError, match="best_mode"):
        TrainConfig(best_mode="lowest")
    assert MeshConfig() == MeshConfig(data=-1, fsdp=1, tensor=1, multihost=False)


def test_override_of_a_field_typed_any_takes_the_literal():
    import dataclasses
    from typing import Any

    from train_kit.config import apply_overrides

    @dataclasses.dataclass(frozen=True)
    class Cfg:
        anything: Any = None

    assert apply_overrides(Cfg(), ["anything=[1, 2]"]).anything == [1, 2]


def test_from_dict_inverts_to_dict_with_nested_tuples_and_enums():
    import enum

    from train_kit.config import DEFAULT_RULES, from_dict

    class Kind(enum.Enum):
        A = "a"
        B = "b"

    @dataclasses.dataclass(frozen=True)
    class Inner:
        dims: tuple = (1, 2)
        kind: Kind = Kind.A
        width: int | None = None

    @dataclasses.dataclass(frozen=True)
    class Outer:
        inner: Inner = Inner()
        mesh: MeshConfig = MeshConfig()
        optim: OptimConfig = OptimConfig()

    cfg = Outer(
        Inner(dims=(3, (4, 5)), kind=Kind.B, width=7),
        MeshConfig(fsdp=2, rules=(("embed", "tensor"), ("batch", ("data", "fsdp")))),
        OptimConfig(lr=0.5),
    )
    import json

    back = from_dict(Outer, json.loads(json.dumps(to_dict(cfg))))
    assert back == cfg and back.inner.kind is Kind.B and back.inner.dims == (3, (4, 5))
    assert back.mesh.rules == (("embed", "tensor"), ("batch", ("data", "fsdp")))
    assert from_dict(Outer, {}) == Outer() and Outer().mesh.rules == DEFAULT_RULES
    with pytest.raises(ConfigError, match=r"Outer.inner: unknown keys depth; valid keys: dims, kind, width"):
        from_dict(Outer, {"inner": {"depth": 2}})
    with pytest.raises(ConfigError, match="optim.decay=.step. is not allowed"):
        from_dict(Outer, {"optim": {"decay": "step"}})


def test_rules_table_is_a_config_field(path):
    cfg = load_config(path, ["mesh.rules=[['embed', 'tensor'], ['batch', ['data', 'fsdp']]]"])
    assert cfg.mesh.rules == (("embed", "tensor"), ("batch", ("data", "fsdp")))
    hash(cfg.mesh)  # still hashable: rules are tuples
    with pytest.raises(ConfigError, match="'embed' -> 'model' is not a mesh axis"):
        load_config(path, ["mesh.rules=[['embed', 'model']]"])


@pytest.mark.parametrize(
    "override", ["train.eval_every=-1", "train.ckpt_every=-5", "train.patience=-1", "train.keep_last=0"]
)
def test_negative_loop_settings_are_refused(path, override):
    with pytest.raises(ConfigError, match=override.split("=")[0]):
        load_config(path, [override])

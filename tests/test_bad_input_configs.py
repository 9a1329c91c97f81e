"""Broken config files and out-of-range values through every system's `train`: one line naming
the file or the key, exit 2, before any training (nothing written, no JAX started)."""

import pytest
from bad_input import Case, assert_clean, run_cases

from train_kit.config import ConfigError, TrainConfig, check_ranges, load_config

CONFIGS = "{root}/configs/{system}/tiny.py"


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    root = tmp_path_factory.mktemp("configs")
    (root / "raises.py").write_text("def get_config():\n    raise RuntimeError('no such experiment')\n")
    (root / "syntax.py").write_text("def get_config(:\n    pass\n")
    (root / "imports.py").write_text("import not_a_module_anywhere\n")
    (root / "noget.py").write_text("X = 1\n")
    (root / "afile").write_text("a file\n")
    (root / "novideos").mkdir()
    (root / "novideos" / "notes.txt").write_text("my own folder\n")
    return root


def _tiny(system):
    from pathlib import Path

    return str(Path(__file__).resolve().parents[1] / "configs" / system / "tiny.py")


def _train(system, *args, expect, script=None):
    return Case(script or f"{system}-jax", ["train", "--config", _tiny(system), *args], expect=expect)


CASES = [
    Case(
        "mmt-jax", ["train", "--config", "raises.py"], expect="raises.py: get_config() failed: RuntimeError"
    ),
    Case("mmt-jax", ["train", "--config", "syntax.py"], expect="syntax.py: cannot import config"),
    Case("arranger-jax", ["train", "--config", "imports.py"], expect="imports.py"),
    Case("musegan-jax", ["train", "--config", "noget.py"], expect="no get_config"),
    Case("clipsonic-jax", ["train", "--config", "afile"], expect="afile"),
    _train("mmt", "data.batch_size=0", expect="data.batch_size=0 must be > 0"),
    _train("mmt", "model.dim=-8", expect="model.dim"),
    _train("mmt", "train.ckpt_every=-1", expect="train.ckpt_every"),
    _train("mmt", "train.eval_every=-5", expect="train.eval_every"),
    _train("mmt", "train.keep_last=-1", expect="train.keep_last"),
    _train("mmt", "optim.lr=nan", expect="optim.lr"),
    _train("mmt", "model.dropout=1.5", expect="model.dropout"),
    _train("mmt", "model.no_such_key=1", expect="unknown config key"),
    _train("mmt", "data.batch_size=big", expect="data.batch_size"),
    _train("mmt", "--data", "missing", expect="--data missing: no such file or folder"),
    _train("mmt", "--out", "afile", expect="not a folder"),
    _train("arranger", "data.batch_size=-4", expect="data.batch_size"),
    _train("arranger", "model.units=0", expect="model.units"),
    _train("musegan", "model.width=-1.0", expect="model.width"),
    _train("musegan", "gan.n_critic=0", expect="gan.n_critic"),
    _train("clipsonic", "unet.channels=0", expect="unet.channels"),
    _train("clipsonic", "--data", "afile", "data.synthetic_clips=0", expect="video folder not found"),
    Case(
        "clipsonic-jax",
        ["train-prior", "--config", _tiny("clipsonic").replace("tiny", "prior_tiny"), "data.batch_size=0"],
        expect="data.batch_size",
    ),
]


def test_broken_configs_and_values_out_of_range(root):
    results, unexpected = run_cases(root, CASES)
    assert_clean(results, unexpected)
    assert all(r.returncode == 2 for r in results), [(r.case.args, r.returncode) for r in results]


def test_a_users_folder_without_videos_is_never_filled(root):
    """`clipsonic-jax train --data FOLDER` with no videos: refused, not 48 demo clips written."""
    case = Case(
        "clipsonic-jax",
        [
            "train",
            "--config",
            _tiny("clipsonic"),
            "--data",
            "novideos",
            "--out",
            "r",
            f"data.clip_dir={root}/c",
        ],
        expect="no videos",
    )
    results, unexpected = run_cases(root, [case])
    assert_clean(results, unexpected)
    assert sorted(p.name for p in (root / "novideos").iterdir()) == ["notes.txt"]


def test_check_ranges_names_the_key():
    check_ranges(load_config(_tiny("mmt")))  # the shipped config is in range
    with pytest.raises(ConfigError, match=r"a\.b\.batch_size=-1 must be > 0"):
        check_ranges({"a": {"b": {"batch_size": -1}}})
    with pytest.raises(ConfigError, match="finite"):
        check_ranges({"lr": float("inf")})
    check_ranges({"seed": -3, "data": -1, "name": "x", "flag": True})  # no range: anything goes
    for bad in ({"eval_every": -1}, {"ckpt_every": -2}, {"keep_last": 0}):
        with pytest.raises(ConfigError):
            TrainConfig(**bad)

"""The run folder: atomic export, one loader, one-line errors for everything else."""

import json

import numpy as np
import pytest

from music_codecs.errors import UserError
from train_kit import run as tk_run
from train_kit.config import TrainConfig

PARAMS = {"dense": {"kernel": np.arange(6, dtype=np.float32).reshape(2, 3), "bias": np.ones(3, np.float32)}}


def _save(path, params=PARAMS, **kw):
    return tk_run.save_run(
        path,
        system="toy",
        config={"train": TrainConfig()},
        params=params,
        step=5,
        metrics={"eval_loss": 1.5},
        **kw,
    )


def test_round_trip(tmp_path):
    _save(tmp_path / "r", note="hello")
    run = tk_run.load_run(tmp_path / "r", system="toy")
    assert run.step == 5 and run.metrics == {"eval_loss": 1.5} and run.info["note"] == "hello"
    assert run.config["train"]["max_steps"] == TrainConfig().max_steps
    np.testing.assert_array_equal(run.params["dense"]["kernel"], PARAMS["dense"]["kernel"])
    assert sorted(p.name for p in (tmp_path / "r").iterdir()) == ["params", "run.json"]
    info = tk_run.update_run_info(tmp_path / "r", metrics={"test_accuracy": 0.9})
    assert info["metrics"] == {"eval_loss": 1.5, "test_accuracy": 0.9}


def test_a_failed_export_leaves_the_previous_one(tmp_path, monkeypatch):
    _save(tmp_path / "r")
    import orbax.checkpoint as ocp

    def full_disk(self, *args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(ocp.StandardCheckpointer, "save", full_disk)
    with pytest.raises(tk_run.RunError, match="No space left on device.*previous export.*unchanged"):
        _save(tmp_path / "r", params={"dense": {"kernel": np.zeros((2, 3)), "bias": np.zeros(3)}})
    monkeypatch.undo()
    run = tk_run.load_run(tmp_path / "r")
    np.testing.assert_array_equal(run.params["dense"]["kernel"], PARAMS["dense"]["kernel"])


def test_a_second_export_replaces_the_first(tmp_path):
    _save(tmp_path / "r")
    new = {"dense": {"kernel": np.full((2, 3), 7, np.float32), "bias": np.zeros(3, np.float32)}}
    _save(tmp_path / "r", params=new)
    assert tk_run.load_run(tmp_path / "r").params["dense"]["kernel"][0, 0] == 7
    assert not (tmp_path / "r" / "params.old").exists() and not (tmp_path / "r" / "params.new").exists()


@pytest.mark.parametrize(
    "setup, message",
    [
        (lambda p: None, "no such run folder"),
        (lambda p: p.mkdir(), "not a run folder (no run.json)"),
        (
            lambda p: (p.mkdir(), (p / "experiment.json").write_text("{}")),
            "old format: rerun the same `arranger-jax train",
        ),
        (
            lambda p: (p.mkdir(), (p / "config.json").write_text("{}")),
            "run `mmt-jax convert-reference` again",
        ),
        (lambda p: (p.mkdir(), (p / "run.json").write_text("{torn")), "run.json: unreadable"),
        (lambda p: (p.mkdir(), (p / "run.json").write_text('{"system": "toy", "config": {}}')), "no params/"),
        (
            lambda p: (p.mkdir(), (p / "run.json").write_text('{"system": "mmt", "config": {}}')),
            "a mmt run, not a toy one",
        ),
        (
            lambda p: (
                p.mkdir(),
                (p / "run.json").write_text('{"format": 9, "system": "toy", "config": {}}'),
            ),
            "run format 9 is newer",
        ),
    ],
)
def test_bad_run_folders_give_one_line(tmp_path, setup, message):
    path = tmp_path / "r"
    setup(path)
    with pytest.raises(UserError) as info:
        tk_run.load_run(path, system="toy")
    assert message in str(info.value) and "\n" not in str(info.value)


def test_check_params_names_the_mismatch(tmp_path):
    import jax

    want = jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, np.float16), PARAMS)
    cast = tk_run.check_params(PARAMS, want, "r")
    assert cast["dense"]["kernel"].dtype == np.float16
    with pytest.raises(
        tk_run.RunError,
        match=r"parameter \['dense'\]\['kernel'\] has shape \(2, 3\), the model needs \(3, 3\)",
    ):
        tk_run.check_params(
            PARAMS,
            {"dense": {"kernel": jax.ShapeDtypeStruct((3, 3), np.float32), "bias": want["dense"]["bias"]}},
            "r",
        )
    with pytest.raises(tk_run.RunError, match=r"parameter \['head'\] is missing"):
        tk_run.check_params(PARAMS, {**want, "head": want["dense"]["bias"]}, "r")
    with pytest.raises(tk_run.RunError, match=r"unexpected parameter \['dense'\]\['bias'\]"):
        tk_run.check_params(PARAMS, {"dense": {"kernel": want["dense"]["kernel"]}}, "r")
    assert json.loads(json.dumps(tk_run.library_versions()))["python"]

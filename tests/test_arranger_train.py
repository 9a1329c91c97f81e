"""Arranger training: the window iterator, validation batches, configs, and tiny runs through the
driver (the exported best checkpoint, the loader, fsdp sharding, the CLI workflow)."""

import json
import subprocess
import sys
from pathlib import Path

import arranger_tiny
import jax
import numpy as np
import pytest

from arranger_jax import data
from arranger_jax import train as T
from arranger_jax.config import ArrangerConfig, DataConfig, table_key
from music_codecs.errors import UserError

K = 4


def _pieces(count=6, seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for i in range(count):
        n = 20 + 7 * i
        out.append(
            data.Piece(
                f"p{i}",
                np.arange(n) * 12,
                rng.integers(40, 80, n),
                np.full(n, 12),
                np.full(n, 64),
                rng.integers(0, K, n),
            )
        )
    return out


def test_window_iterator_is_deterministic_and_resumable():
    cfg = DataConfig(seq_len=16)
    it = T.WindowIterator(_pieces(), K, 4, cfg)
    first = [next(it) for _ in range(3)]  # crosses into the second pass (6 // 4 = 1 batch per pass)
    saved = it.get_state()
    after = [next(it) for _ in range(2)]
    again = T.WindowIterator(_pieces(), K, 4, cfg)
    assert all(np.array_equal(a["pitch"], b["pitch"]) for a, b in zip(first, [next(again) for _ in range(3)]))
    resumed = T.WindowIterator(_pieces(), K, 4, cfg)
    resumed.set_state(saved)
    for a, b in zip(after, [next(resumed) for _ in range(2)]):
        for key in a:
            assert np.array_equal(a[key], b[key])
    batch = first[0]
    assert batch["pitch"].shape == (4, 16) and batch["entry_hint"].shape == (4, 16, K)
    assert batch["target"].max() <= K and batch["pitch_hint"].shape == (4, K)
    # a different seed draws different windows
    other = next(T.WindowIterator(_pieces(), K, 4, DataConfig(seq_len=16, seed=1)))
    assert not np.array_equal(other["pitch"], first[0]["pitch"])


def test_process_slices_cover_the_global_batch():
    cfg = DataConfig(seq_len=16, eval_batch_size=4)
    whole = next(T.WindowIterator(_pieces(), K, 4, cfg))
    halves = [next(T.WindowIterator(_pieces(), K, 4, cfg, i, 2)) for i in range(2)]
    for key in whole:
        assert np.array_equal(np.concatenate([h[key] for h in halves]), whole[key])
    evals = T.eval_batches(_pieces(), K, cfg)
    parts = [T.eval_batches(_pieces(), K, cfg, process_index=i, process_count=2) for i in range(2)]
    assert len(evals) == len(parts[0]) == len(parts[1]) == 2
    for b, (x, y) in zip(evals, zip(*parts)):
        assert x["pitch"].shape[0] == 2
        for key in b:
            assert np.array_equal(np.concatenate([x[key], y[key]]), b[key])


def test_eval_batches_pad_whole_pieces():
    pieces = _pieces(5)
    cfg = DataConfig(eval_batch_size=2)
    batches = T.eval_batches(pieces, K, cfg, max_len=40)
    assert len(batches) == 3
    real = sum(int((b["target"] > 0).sum()) for b in batches)
    assert real == sum(min(len(p), 40) for p in pieces)
    assert all(b["pitch"].shape[1] % 64 == 0 for b in batches)
    assert not batches[-1]["pitch"][1].any()  # the filler row is all padding


def test_table_keys_and_config_files():
    from train_kit.config import ConfigError, load_config

    assert table_key(ArrangerConfig(arch="lstm", online=False, use_entry_hints=True)) == "bilstm_eh"
    assert table_key(ArrangerConfig(arch="transformer", online=True)) == "transformer_dec"
    exp = load_config("configs/arranger/bach_transformer_enc.py", ["model.use_entry_hints=True"])
    assert exp.model.arch == "transformer" and not exp.model.online and exp.model.use_entry_hints
    assert exp.data.batch_size == 16 and exp.data.seq_len == 500 and exp.train.patience == 5
    assert exp.train.out_dir == "runs/arranger/bach_transformer_enc"
    assert exp.data.folder() == "data/arranger/bach" == DataConfig().folder()
    assert DataConfig(dataset="quartets").folder() == "data/arranger/quartets"
    assert DataConfig(path="elsewhere").folder() == "elsewhere"
    with pytest.raises(ConfigError):
        load_config("configs/arranger/tiny.py", ["model.hidden=3"])
    with pytest.raises(ConfigError):
        load_config("configs/arranger/tiny.py", ["batch_size=8"])  # now data.batch_size


def test_config_files_import_no_training_code():
    code = (
        "import sys; from train_kit.config import load_config\n"
        "for name in ('bach_lstm', 'bach_bilstm', 'bach_transformer_dec', 'bach_transformer_enc',\n"
        "             'tiny'):\n"
        "    load_config(f'configs/arranger/{name}.py')\n"
        "heavy = [m for m in ('jax', 'flax', 'optax', 'arranger_jax.train', 'arranger_jax.models') "
        "if m in sys.modules]\n"
        "assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# ------------------------------------------------------------------ tiny runs through the driver


def _tiny_cfg(tmp_path, *more):
    from train_kit.config import load_config

    path, overrides = arranger_tiny.tiny_training(tmp_path)
    return load_config(path, overrides + ["train.async_checkpoints=False", *more])


# Evaluations every 2 steps, and "best" = the HIGHEST validation loss: it falls while training,
# so the best checkpoint is an early one and the export must differ from the final state.
BEST_EARLY = ["train.max_steps=6", "train.eval_every=2", "train.best_mode=max", "optim.lr=1e-2"]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("arranger_run")
    cfg = _tiny_cfg(tmp, *BEST_EARLY)
    return cfg, T.train(cfg, progress=False)


def test_run_exports_the_best_checkpoint(tiny_run):
    from train_kit.checkpoint import Checkpointer
    from train_kit.run import read_run_info

    cfg, result = tiny_run
    assert result.status == "finished" and result.step == 6
    assert result.best_step == 2  # the first evaluation had the highest validation loss
    info = read_run_info(cfg.train.out_dir, "arranger")
    assert info["step"] == 2 and info["config"]["model"]["num_parts"] == K
    assert info["config"]["data"]["path"] == cfg.data.path and info["config"]["data"]["dataset"] == "bach"
    ckpt = Checkpointer(f"{cfg.train.out_dir}/checkpoints", create=False)
    try:
        best = ckpt.restore(target=result.fit.state, step=2)[0].params
    finally:
        ckpt.close()
    final = jax.device_get(result.fit.state.params)
    flat_best, flat_final = jax.tree.leaves(jax.device_get(best)), jax.tree.leaves(final)
    for exported, b in zip(jax.tree.leaves(result.params), flat_best):
        np.testing.assert_array_equal(exported, b)
    assert any(not np.array_equal(a, b) for a, b in zip(flat_best, flat_final))
    # the test split is scored with the exported parameters and recorded in run.json
    for key in ("test_accuracy", "test_notes", "test_balanced_accuracy", "best_eval_loss", "eval_loss"):
        assert key in info["metrics"], key
    assert 0 <= info["metrics"]["test_accuracy"] <= 1 and info["metrics"]["test_notes"] > 0
    assert result.metrics["test_accuracy"] == info["metrics"]["test_accuracy"]


def test_load_round_trip(tiny_run):
    from arranger_jax.load import load

    cfg, result = tiny_run
    trained = load(cfg.train.out_dir)
    assert trained.config == result.config and trained.dataset == "bach"
    flat = dict(jax.tree_util.tree_flatten_with_path(trained.params)[0])
    for path, value in jax.tree_util.tree_flatten_with_path(result.params)[0]:
        np.testing.assert_array_equal(flat[path], value)
        assert flat[path].dtype == value.dtype
    # the loaded model labels like the exported parameters
    from arranger_jax.load import example_inputs

    x = example_inputs(K)
    np.testing.assert_allclose(
        trained.model.apply({"params": trained.params}, x),
        trained.model.apply({"params": result.params}, x),
        atol=1e-6,
    )
    # inference reads a run without any training code
    code = (
        f"import sys; from arranger_jax.load import load; load({cfg.train.out_dir!r})\n"
        "bad = [m for m in ('arranger_jax.train', 'train_kit.driver', 'train_kit.fit', 'train_kit.step', "
        "'train_kit.checkpoint') if m in sys.modules]\n"
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_load_refuses_what_is_not_an_arranger_run(tiny_run, tmp_path):
    import shutil

    from arranger_jax.load import load
    from train_kit.run import RunError, save_run

    cfg, _ = tiny_run
    cases = {}
    save_run(tmp_path / "mmt", system="mmt", config={"model": {}}, params={"w": np.zeros(2)})
    cases["mmt"] = tmp_path / "mmt"
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "experiment.json").write_text("{}")
    cases["old format"] = tmp_path / "old"
    (tmp_path / "noparams").mkdir()
    shutil.copy(f"{cfg.train.out_dir}/run.json", tmp_path / "noparams")
    cases["params"] = tmp_path / "noparams"
    shutil.copytree(cfg.train.out_dir, tmp_path / "wider", ignore=shutil.ignore_patterns("checkpoints", "tb"))
    info = json.loads((tmp_path / "wider" / "run.json").read_text())
    info["config"]["model"]["units"] = 32
    (tmp_path / "wider" / "run.json").write_text(json.dumps(info))
    cases["shape"] = tmp_path / "wider"
    cases["no such run"] = tmp_path / "missing"
    for words, path in cases.items():
        with pytest.raises(RunError) as err:
            load(path)
        assert isinstance(err.value, UserError) and "\n" not in str(err.value)
        assert words in str(err.value), (words, str(err.value))


def test_fsdp_splits_parameters_and_matches_one_way_data_parallel(tiny_run, tmp_path):
    from train_kit.metric_log import read_metrics

    cfg, base = tiny_run
    result = T.train(_tiny_cfg(tmp_path, *BEST_EARLY, "mesh.fsdp=2"), progress=False)
    params = result.fit.state.params
    kernel = params["lstm_0"]["recurrent_kernel"]  # [units, 4 units] = ("embed", "mlp")
    assert "fsdp" in str(kernel.sharding.spec)
    assert kernel.sharding.shard_shape(kernel.shape) == (kernel.shape[0] // 2, kernel.shape[1])
    split = [x for x in jax.tree.leaves(params) if x.sharding.shard_shape(x.shape) != x.shape]
    assert len(split) >= 5
    losses = [
        [r["loss"] for r in read_metrics(run.config.train.out_dir) if r["split"] == "train"]
        for run in (base, result)
    ]
    assert len(losses[0]) == 6
    np.testing.assert_allclose(losses[1], losses[0], rtol=1e-4)
    assert result.best_step == base.best_step
    # Adam's first steps move a weight by about the learning rate however small its gradient, so
    # a gradient component that is rounding noise (summed in another order when sharded) can
    # move differently: nearly every weight agrees to 1e-5, none by more than the steps' reach.
    pairs = zip(jax.tree.leaves(result.params), jax.tree.leaves(base.params))
    diffs = np.concatenate([np.abs(np.asarray(a) - np.asarray(b)).ravel() for a, b in pairs])
    assert np.mean(diffs <= 1e-5) >= 0.999, np.sort(diffs)[-10:]
    assert diffs.max() <= 2 * result.config.optim.lr * result.best_step


def test_evaluate_and_instrument_read_the_run(tiny_run, tmp_path, capsys):
    from arranger_jax import cli
    from music_codecs.midi_write import write_midi
    from music_codecs.note_table import NoteTable

    cfg, result = tiny_run
    with pytest.raises(SystemExit) as done:
        cli.main(["evaluate", "--data", cfg.data.path, "--runs", str(Path(cfg.train.out_dir).parent)])
    assert done.value.code == 0
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.startswith("| LSTM |"))
    assert f"{100 * result.metrics['test_accuracy']:.2f}" in row
    assert "bach lstm: lstm/default_embedding, trained here" in out
    table = NoteTable(
        480,
        onset=[0, 480, 960],
        duration=[480] * 3,
        pitch=[60, 64, 67],
        velocity=[80] * 3,
        program=[0] * 3,
        is_drum=[0] * 3,
        track=[0] * 3,
    )
    write_midi(table, tmp_path / "solo.mid")
    for flag, out in (
        ("--checkpoint", ["--out", str(tmp_path / "out")]),
        ("--model", [str(tmp_path / "old")]),  # the old spellings, still read
        ("--checkpoint", []),
    ):  # default: beside the input
        with pytest.raises(SystemExit) as done:
            cli.main(["instrument", flag, cfg.train.out_dir, str(tmp_path / "solo.mid"), *out, "--no-wav"])
        assert done.value.code == 0
        assert "3 notes -> Soprano" in capsys.readouterr().out
    for folder in ("out", "old", "."):
        assert (tmp_path / folder / "solo_arranged.mid").exists()
    assert (tmp_path / "solo.mid").exists()


def test_prepare_then_train_with_the_default_data_folder(tmp_path, monkeypatch, capsys):
    """`arranger-jax prepare bach` then `arranger-jax train --config ...` with no --data."""
    from arranger_jax import cli

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(
        data, "collect_corpus", lambda dataset, limit=None: (arranger_tiny.synthetic_pieces(), [])
    )
    with pytest.raises(SystemExit) as done:
        cli.main(["prepare", "bach", "--exact-split"])
    assert done.value.code == 0 and (tmp_path / "data/arranger/bach/dataset.json").exists()
    config, _ = arranger_tiny.tiny_training(tmp_path / "unused")
    with pytest.raises(SystemExit) as done:
        cli.main(
            [
                "train",
                "--config",
                config,
                "--out",
                "runs/tiny",
                "train.max_steps=1",
                "train.eval_every=0",
                "train.async_checkpoints=False",
            ]
        )
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert "test accuracy" in out and (tmp_path / "runs/tiny/run.json").exists()
    info = json.loads((tmp_path / "runs/tiny/run.json").read_text())
    assert info["config"]["data"]["path"] == "data/arranger/bach"
    monkeypatch.chdir(tmp_path / "runs")  # no dataset here: one line naming the folder
    with pytest.raises(SystemExit) as done:
        cli.main(["train", "--config", config])
    assert done.value.code == 2 and "data/arranger/bach: no prepared dataset" in capsys.readouterr().err


def test_batches_that_do_not_fit_are_one_line_errors(tmp_path):
    from train_kit.config import ConfigError

    with pytest.raises(ConfigError, match="data.eval_batch_size=3 must be a positive multiple of the 8"):
        T.train(_tiny_cfg(tmp_path, "data.eval_batch_size=3"), progress=False)
    with pytest.raises(UserError, match="32 training pieces cannot fill a batch of data.batch_size=64"):
        T.train(_tiny_cfg(tmp_path, "data.batch_size=64"), progress=False)

"""MMT loss, the paper's training settings, a tiny end-to-end run through train_kit's driver and the
loader of its run folder (mmt_jax.load)."""

import json
import math
import os
import pathlib
import shutil
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import linen as nn
from mmt_tiny import tiny_training

from mmt_jax.cli import COMMANDS
from mmt_jax.load import load
from mmt_jax.loss import make_eval_fn, mmt_loss, teacher_forcing
from mmt_jax.model import MMTConfig, MusicTransformer, abstract_params, count_params
from music_codecs.errors import UserError
from train_kit.cli import run_cli
from train_kit.config import load_config
from train_kit.optim import lr_schedule
from train_kit.run import save_run
from train_kit.sharding import unnamed_params

ROOT = pathlib.Path(__file__).resolve().parents[1]
LN2 = math.log(2.0)


def test_loss_masked_versus_reference_unmasked():
    # every field: logits [0, ln2, 0] -> p = (1/4, 1/2, 1/4); row 0 real (target 1), row 1 padding
    logits = tuple(jnp.broadcast_to(jnp.array([0.0, LN2, 0.0]), (1, 2, 3)) for _ in range(6))
    targets = jnp.array([[[1] * 6, [0] * 6]])
    mask = jnp.array([[True, False]])
    masked, m = mmt_loss(logits, targets, mask)
    assert masked == pytest.approx(6 * LN2, rel=1e-6)  # -log(1/2) per field
    assert m["loss_pitch"] == pytest.approx(LN2, rel=1e-6) and m["tokens"] == 1
    reference, r = mmt_loss(logits, targets, mask, mask_padding=False)
    assert reference == pytest.approx(6 * 1.5 * LN2, rel=1e-6)  # mean(ln2, ln4) per field
    assert r["tokens"] == 2


def test_teacher_forcing_shifts_by_one_event():
    seq = jnp.arange(2 * 4 * 6).reshape(2, 4, 6)
    mask = jnp.array([[1, 1, 1, 0], [1, 1, 1, 1]], bool)
    inputs, targets, input_mask, target_mask = teacher_forcing(seq, mask)
    np.testing.assert_array_equal(inputs, seq[:, :3])
    np.testing.assert_array_equal(targets, seq[:, 1:])
    np.testing.assert_array_equal(input_mask, [[1, 1, 1], [1, 1, 1]])
    np.testing.assert_array_equal(target_mask, [[1, 1, 0], [1, 1, 1]])


def test_reference_loss_ignores_filler_rows_only():
    """mask_padding=False counts padded positions of real rows, not rows added to fill a batch."""
    config = MMTConfig.tiny(max_seq_len=16, depth=1)
    model = MusicTransformer(config)
    rng = np.random.default_rng(0)
    codes = np.stack([rng.integers(0, n, (2, 9)) for n in config.vocab_sizes], -1)
    mask = np.ones((2, 9), bool)
    mask[1, 5:] = False
    codes[1, 5:] = 0
    params = jax.jit(model.init)(jax.random.key(0), codes)["params"]
    eval_fn = jax.jit(make_eval_fn(model, mask_padding=False))
    loss, _ = eval_fn(params, {"codes": codes, "mask": mask})
    logits = jax.jit(model.apply)({"params": params}, codes[:, :-1], mask[:, :-1])
    want, _ = mmt_loss(logits, codes[:, 1:], mask[:, 1:], mask_padding=False)
    assert float(loss) == pytest.approx(float(want), rel=1e-6)
    filled = {
        "codes": np.concatenate([codes, np.zeros_like(codes[:1])]),
        "mask": np.concatenate([mask, np.zeros_like(mask[:1])]),
    }
    assert float(eval_fn(params, filled)[0]) == pytest.approx(float(want), rel=1e-5)
    masked, _ = jax.jit(make_eval_fn(model))(params, {"codes": codes, "mask": mask})
    assert abs(float(masked) - float(want)) > 1e-3


def reference_multiplier(step):
    """The reference's LambdaLR multiplier (reference §3), written out."""
    if step < 5000:
        return (step + 1) / 5000
    if step > 100_000:
        return 0.1
    return 1 - 0.9 * (step - 5000) / 95_000


def test_sod_config_is_the_paper_setup():
    cfg = load_config(ROOT / "configs/mmt/sod.py")
    assert count_params(nn.meta.unbox(abstract_params(cfg.model))) == 19_944_950
    assert cfg.data.batch_size == 8 and cfg.data.max_beat == 256
    assert (cfg.optim.name, cfg.optim.lr, cfg.optim.weight_decay, cfg.optim.clip_norm) == (
        "adam",
        5e-4,
        0.0,
        1.0,
    )
    assert (cfg.train.max_steps, cfg.train.eval_every, cfg.train.patience) == (200_000, 1000, 21)
    schedule = lr_schedule(cfg.optim)
    for step in (0, 1, 4999, 5000, 5001, 52_500, 99_999, 100_000, 100_001, 199_999):
        assert float(schedule(step)) == pytest.approx(5e-4 * reference_multiplier(step), rel=1e-5)
    for name in ("lmd", "snd"):
        other = load_config(ROOT / f"configs/mmt/{name}.py")
        assert other.optim == cfg.optim and other.model == cfg.model
        assert name in other.data.path and name in other.train.out_dir
    rotary = load_config(ROOT / "configs/mmt/sod.py", ["model.pos_emb=rotary"])
    assert count_params(nn.meta.unbox(abstract_params(rotary.model))) == 19_420_662


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """20 steps on fixture data over a (data 4, fsdp 2) mesh, "best" = the HIGHEST eval loss, so
    the best checkpoint (step 10, as validation loss falls) is not the last one (step 20)."""
    from mmt_jax.train import train

    tmp = tmp_path_factory.mktemp("mmt_train")
    config, overrides = tiny_training(tmp)
    cfg = load_config(
        config,
        overrides
        + [
            "train.max_steps=20",
            "train.eval_every=10",
            "train.log_every=10",
            "train.keep_best_metric=eval_loss",
            "train.best_mode=max",
            "mesh.data=4",
            "mesh.fsdp=2",
        ],
    )
    return cfg, train(cfg, progress=False)


def test_tiny_training_run_lowers_validation_loss(trained):
    cfg, result = trained
    out = pathlib.Path(cfg.train.out_dir)
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    evals = [r["eval_loss"] for r in rows if r["split"] == "eval"]
    assert len(evals) == 2 and evals[1] < evals[0]
    assert math.isfinite(evals[0]) and evals[0] < 6 * math.log(257)
    assert result.status == "finished" and result.step == 20


def test_export_is_the_best_checkpoint_and_loads_back(trained):
    cfg, result = trained
    out = cfg.train.out_dir
    assert result.best_step == 10  # the higher of the two validation losses
    params, loaded = load(out)
    assert loaded == cfg and loaded.model.max_seq_len == 48 and loaded.model.depth == 1
    assert json.loads((pathlib.Path(out) / "run.json").read_text())["step"] == 10
    for a, b in zip(jax.tree.leaves(params), jax.tree.leaves(result.params)):
        np.testing.assert_array_equal(a, b)  # round trip: what train exported is what loads
    best, _ = load(out, step=10)
    last, _ = load(out, step=20)
    for a, b in zip(jax.tree.leaves(params), jax.tree.leaves(best)):
        np.testing.assert_array_equal(a, b)
    final = jax.device_get(result.fit.state.params)
    for a, b in zip(jax.tree.leaves(last), jax.tree.leaves(final)):
        np.testing.assert_array_equal(a, b)
    assert any(not np.array_equal(a, b) for a, b in zip(jax.tree.leaves(best), jax.tree.leaves(last)))
    with pytest.raises(UserError, match="no training checkpoint for step 7"):
        load(out, step=7)


def test_fsdp_really_splits_parameters(trained):
    cfg, result = trained
    assert unnamed_params(abstract_params(cfg.model)) == []
    emb = result.fit.state.params["token_emb_1"]["embedding"]  # (vocab, embed) = (257, 64)
    assert emb.sharding.spec[1] == "fsdp" and emb.addressable_shards[0].data.shape == (257, 32)


def test_loader_refuses_what_is_not_an_mmt_run(trained, tmp_path):
    cfg, result = trained

    def one_line_error(path, match):
        with pytest.raises(UserError, match=match) as err:
            load(path)
        assert "\n" not in str(err.value)

    one_line_error(tmp_path / "nothing", "no such run folder")
    other = tmp_path / "toy"
    save_run(other, system="toy", config=cfg, params={"w": np.zeros(2, np.float32)})
    one_line_error(other, "a toy run, not a mmt one")
    (tmp_path / "old-train").mkdir()
    (tmp_path / "old-train" / "train-config.json").write_text("{}")
    one_line_error(tmp_path / "old-train", "mmt-jax train")
    (tmp_path / "old-convert").mkdir()
    (tmp_path / "old-convert" / "config.json").write_text("{}")
    one_line_error(tmp_path / "old-convert", "convert-reference")
    no_params = tmp_path / "no-params"
    no_params.mkdir()
    shutil.copy(pathlib.Path(cfg.train.out_dir) / "run.json", no_params / "run.json")
    one_line_error(no_params, "no params/")
    shutil.copytree(pathlib.Path(cfg.train.out_dir) / "params", no_params / "params")
    info = json.loads((no_params / "run.json").read_text())
    info["config"]["model"]["depth"] = 2
    (no_params / "run.json").write_text(json.dumps(info))
    one_line_error(no_params, "blocks_1.* missing")


def test_inference_imports_no_training_code(trained):
    cfg, _ = trained
    code = (
        f"import sys; from mmt_jax.load import load; load({cfg.train.out_dir!r}); "
        "bad = [m for m in ('mmt_jax.train', 'train_kit.fit', 'train_kit.step', "
        "'train_kit.driver', 'train_kit.checkpoint', 'optax') if m in sys.modules]; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True, env={**os.environ, "JAX_PLATFORMS": "cpu"})
    code = (
        "import sys; from train_kit.config import load_config; "
        "[load_config(f'configs/mmt/{n}.py') for n in ('tiny', 'sod', 'lmd', 'snd')]; "
        "bad = [m for m in sys.modules if m.split('.')[0] in ('jax', 'flax', 'optax', 'grain') "
        "or m == 'mmt_jax.train']; assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_training_errors_are_one_line(tmp_path):
    # a missing data folder is one clean error (exit 2), not a traceback
    bad = [
        "train",
        "--config",
        str(ROOT / "configs/mmt/tiny.py"),
        "--data",
        str(tmp_path / "nothing"),
        "data.prepare_corpus=''",
    ]
    assert run_cli("mmt-jax", "", COMMANDS, bad) == 2
    with pytest.raises(UserError, match="beat vocabulary"):
        load_config(ROOT / "configs/mmt/tiny.py", ["data.max_beat=64"])


def test_tensor_parallel_eval_matches_unsharded():
    """On a (data 4, tensor 2) mesh the heads/mlp/vocab axes are split and the loss is unchanged."""
    from train_kit.config import MeshConfig, OptimConfig
    from train_kit.mesh import batch_shardings, global_batch, make_mesh
    from train_kit.optim import make_optimizer
    from train_kit.sharding import create_train_state
    from train_kit.step import make_eval_step

    config = MMTConfig.tiny(depth=1, max_seq_len=16)
    model = MusicTransformer(config)
    mesh = make_mesh(MeshConfig(data=4, fsdp=1, tensor=2))
    tx, _ = make_optimizer(OptimConfig())
    example = jnp.zeros((8, 4, 6), jnp.int32)
    state, shardings = create_train_state(lambda r: model.init(r, example)["params"], tx, mesh)
    query = state.params["blocks_0"]["attn"]["query"]
    assert query.sharding.spec[1] == "tensor" and query.addressable_shards[0].data.shape[1] == 2
    assert state.params["blocks_0"]["ff"]["wi"]["kernel"].sharding.spec[1] == "tensor"
    rng = np.random.default_rng(1)
    batch = {
        "codes": np.stack([rng.integers(0, n, (8, 10)) for n in config.vocab_sizes], -1).astype(np.int32),
        "mask": np.arange(10)[None] < rng.integers(3, 11, (8, 1)),
    }
    step = make_eval_step(make_eval_fn(model), shardings.params, batch_shardings(batch, mesh))
    sharded = step(state.params, global_batch(batch, mesh))["loss"]
    plain, _ = jax.jit(make_eval_fn(model))(jax.device_get(state.params), batch)
    assert float(sharded) == pytest.approx(float(plain), rel=1e-5)

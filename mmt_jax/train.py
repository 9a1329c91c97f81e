"""Training MMT through train_kit (spec §3): config sections, loss functions, the run itself.

A config file (configs/mmt/*.py) returns a `Config`: the model, the prepared data folder, the
loss option, and train_kit's OptimConfig / TrainConfig / MeshConfig. `train(cfg)` builds the
mesh, a sharded TrainState, the grain pipelines of mmt_jax.data, and runs train_kit's `fit`
(validation, early stopping, checkpoints, resume, metrics.jsonl). At the end the best
parameters (by validation loss, else the last) are exported as `<out>/params` + `config.json`,
the same format `mmt-jax convert-reference` writes, which `load_params` reads.

Reference parity notes: the reference loss counts padded rows (`loss.mask_padding=False`) and
pads each batch to its longest sequence (`data.pad_to_max=False data.pad_multiple=1`); its
early stopping fires on the 21st validation round without improvement (`train.patience=21`);
its validation loss is the plain mean of batch losses (what train_kit's evaluation reports).
"""
from __future__ import annotations

import dataclasses
import itertools
import json
import os
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from flax import linen as nn
from jax.experimental import multihost_utils

from music_codecs.errors import UserError
from mmt_jax.convert import load_converted, save_converted
from mmt_jax.data import make_dataset
from mmt_jax.loss import mmt_loss, teacher_forcing
from mmt_jax.model import MMTConfig, MusicTransformer, abstract_params
from train_kit import mesh as tk_mesh
from train_kit.checkpoint import Checkpointer
from train_kit.config import MeshConfig, OptimConfig, TrainConfig, to_dict
from train_kit.fit import fit
from train_kit.optim import compute_dtype, learning_rate, make_optimizer
from train_kit.sharding import create_train_state
from train_kit.state import TrainState
from train_kit.step import make_eval_step, make_train_step

CONFIG_FILE = "config.json"
TRAIN_CONFIG_FILE = "train-config.json"


@dataclasses.dataclass(frozen=True)
class DataConfig:
    """A folder made by `mmt-jax prepare` (the reference's layout: notes/, *-names.txt)."""
    dir: str = ""
    train_names: str = ""        # default <dir>/train-names.txt
    valid_names: str = ""        # default <dir>/valid-names.txt
    batch_size: int = 8          # global batch (split over the data/fsdp mesh axes)
    max_beat: int = 256          # must equal model.vocab_sizes[1] - 1
    pad_to_max: bool = True      # pad every batch to model.max_seq_len: one compiled shape
    pad_multiple: int = 64       # without pad_to_max: longest row count rounded up to this
    eval_max_batches: int = 0    # 0: the whole validation split each round
    prepare_corpus: str = ""     # "music21": prepare `dir` from the music21 corpus if missing
    prepare_limit: int = 0       # with prepare_corpus: only the first N pieces (0 = all)


@dataclasses.dataclass(frozen=True)
class LossConfig:
    mask_padding: bool = True    # False: the reference's loss (padding rows are class-0 targets)


@dataclasses.dataclass(frozen=True)
class Config:
    model: MMTConfig = MMTConfig()
    data: DataConfig = DataConfig()
    loss: LossConfig = LossConfig()
    optim: OptimConfig = OptimConfig()
    train: TrainConfig = TrainConfig()
    mesh: MeshConfig = MeshConfig()

    def __post_init__(self):
        if self.data.max_beat + 1 != self.model.vocab_sizes[1]:
            raise UserError(f"data.max_beat={self.data.max_beat} does not fit the model's beat "
                            f"vocabulary of {self.model.vocab_sizes[1]} (needs max_beat + 1)")


def paper_optim(**overrides) -> OptimConfig:
    """Adam 5e-4, warm-up (s+1)/5000, linear decay to 0.1x at step 100k, clip 1.0 (spec §3)."""
    settings = dict(name="adam", lr=5e-4, warmup_steps=5000, warmup_offset=1, decay="linear",
                    decay_steps=100_000, final_lr_fraction=0.1, clip_norm=1.0)
    settings.update(overrides)
    return OptimConfig(**settings)


# ----------------------------------------------------------------------------- loss functions

def _targets_mask(batch, mask_padding):
    """Which target rows count: real rows, or (reference) every position of every real row."""
    inputs, targets, input_mask, target_mask = teacher_forcing(batch["codes"], batch["mask"])
    if not mask_padding:  # rows that are pure filler (added to complete a batch) still drop out
        real_row = batch["mask"].any(axis=1)
        target_mask = jnp.broadcast_to(real_row[:, None], target_mask.shape)
    return inputs, targets, input_mask, target_mask


def make_loss_fn(model, mask_padding=True):
    """train_kit loss_fn(params, batch, rng) -> (loss, metrics), dropout on."""
    def loss_fn(params, batch, rng):
        inputs, targets, input_mask, target_mask = _targets_mask(batch, mask_padding)
        logits = model.apply({"params": params}, inputs, input_mask, deterministic=False,
                             rngs={"dropout": rng})
        return mmt_loss(logits, targets, target_mask, mask_padding=True)
    return loss_fn


def make_eval_fn(model, mask_padding=True):
    """train_kit eval_fn(params, batch) -> (loss, metrics), no dropout."""
    def eval_fn(params, batch):
        inputs, targets, input_mask, target_mask = _targets_mask(batch, mask_padding)
        logits = model.apply({"params": params}, inputs, input_mask)
        return mmt_loss(logits, targets, target_mask, mask_padding=True)
    return eval_fn


# ----------------------------------------------------------------------------- data

def _names_path(cfg: DataConfig, split: str) -> Path:
    given = cfg.train_names if split == "train" else cfg.valid_names
    return Path(given) if given else Path(cfg.dir) / f"{split}-names.txt"


def ensure_data(cfg: DataConfig) -> None:
    """Check the prepared folder; prepare it from the corpus first when the config says so."""
    if not cfg.dir:
        raise UserError("no data folder: pass --data DIR (a folder made by `mmt-jax prepare`)")
    if not _names_path(cfg, "train").is_file() and cfg.prepare_corpus:
        from mmt_jax import prepare

        print(f"preparing the {cfg.prepare_corpus} corpus into {cfg.dir} (first run only)")
        items = prepare.corpus_items(None)
        if cfg.prepare_limit:
            items = items[:cfg.prepare_limit]
        report = prepare.prepare(items, cfg.dir, workers=max(1, min(4, os.cpu_count() or 1)))
        print(prepare.summary({**report, "skipped": []}))
    for split in ("train", "valid"):
        path = _names_path(cfg, split)
        if not path.is_file():
            raise UserError(f"{path}: not found; prepare the data first "
                            f"(`mmt-jax prepare --input MIDI_DIR --output {cfg.dir or 'DIR'}`)")
    if not (Path(cfg.dir) / "notes").is_dir():
        raise UserError(f"{cfg.dir}: no notes/ folder (is it a folder made by `mmt-jax prepare`?)")


def _pad_rows(batch, rows):
    """Complete a short (last) batch with empty rows, which every loss ignores."""
    have = len(batch["mask"])
    if have == rows:
        return batch
    return {k: np.concatenate([v, np.zeros((rows - have,) + v.shape[1:], v.dtype)])
            for k, v in batch.items()}


def make_pipelines(cfg: Config, per_process_batch: int, process_index=0, process_count=1):
    """(training iterator with get_state/set_state, fn returning a fresh validation iterable)."""
    d = cfg.data
    common = dict(max_beat=d.max_beat, max_seq_len=cfg.model.max_seq_len,
                  pad_to="max_seq_len" if d.pad_to_max else None, pad_multiple=d.pad_multiple,
                  shard_index=process_index, shard_count=process_count)
    notes = Path(d.dir) / "notes"
    train_ds = make_dataset(notes, str(_names_path(d, "train")), per_process_batch, train=True,
                            seed=cfg.train.seed, **common)
    valid_ds = make_dataset(notes, str(_names_path(d, "valid")), per_process_batch, train=False,
                            **common)

    def eval_data():
        batches = (_pad_rows(b, per_process_batch) for b in valid_ds)
        return itertools.islice(batches, d.eval_max_batches or None)
    return iter(train_ds.to_iter_dataset()), eval_data


# ----------------------------------------------------------------------------- the run

def write_config(out_dir, cfg: Config) -> None:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / TRAIN_CONFIG_FILE).write_text(json.dumps(to_dict(cfg), indent=2) + "\n")


def train(cfg: Config):
    """Run (or resume) training; returns train_kit's FitResult."""
    ensure_data(cfg.data)
    tk_mesh.maybe_initialize_distributed(cfg.mesh)
    mesh = tk_mesh.make_mesh(cfg.mesh)
    n_proc, batch = jax.process_count(), cfg.data.batch_size
    split = mesh.shape["data"] * mesh.shape["fsdp"]
    if batch % split or batch % n_proc:
        raise UserError(f"data.batch_size={batch} must be a multiple of the {split} data-parallel "
                        f"devices and the {n_proc} processes")
    per_process = batch // n_proc
    train_iter, eval_data = make_pipelines(cfg, per_process, jax.process_index(), n_proc)

    model = MusicTransformer(cfg.model)
    tx, schedule = make_optimizer(cfg.optim)
    example = jnp.zeros((batch, 8, 6), jnp.int32)
    state, shardings = create_train_state(lambda rng: model.init(rng, example)["params"], tx,
                                          mesh, seed=cfg.train.seed)
    example_batch = {"codes": np.zeros((per_process, 8, 6), np.int32),
                     "mask": np.zeros((per_process, 8), bool),
                     "seq_len": np.zeros((per_process,), np.int32)}
    batch_sh = tk_mesh.batch_shardings(example_batch, mesh)
    dtype = compute_dtype(cfg.optim)
    train_step = make_train_step(make_loss_fn(model, cfg.loss.mask_padding), tx, shardings,
                                 batch_sh, compute_dtype=dtype)
    eval_step = make_eval_step(make_eval_fn(model, cfg.loss.mask_padding), shardings.params,
                               batch_sh, compute_dtype=dtype)
    out_dir = cfg.train.out_dir
    if out_dir and jax.process_index() == 0:
        write_config(out_dir, cfg)
    n_params = sum(int(np.prod(x.shape)) for x in jax.tree.leaves(state.params))
    print(f"MMT: {n_params:,} parameters; mesh {dict(mesh.shape)}; batch {batch}")
    result = fit(state, train_step, train_iter, cfg.train, mesh=mesh, eval_step=eval_step,
                 eval_data=eval_data,
                 lr_fn=lambda step: learning_rate(schedule, step, cfg.optim))
    if out_dir:  # every process takes part (orbax saves are collective)
        params = _best_params(out_dir, cfg, result)
        params = (multihost_utils.process_allgather(params) if jax.process_count() > 1
                  else jax.device_get(params))
        save_converted(out_dir, params, cfg.model,
                       source=f"training step {result.best_step or result.step}")
    return result


def _best_params(out_dir, cfg, result):
    """The params of the best checkpoint (by validation loss), else the final state's."""
    if result.best_step is None or result.best_step == result.step:
        return result.state.params
    try:
        return restore_params(out_dir, cfg, step=result.best_step)
    except UserError:  # the best checkpoint was not kept: fall back to the last state
        return result.state.params


# ----------------------------------------------------------------------------- loading

def restore_params(run_dir, cfg: Config, step=None):
    """Parameters of a training checkpoint under `<run_dir>/checkpoints` (default: latest)."""
    device = jax.sharding.SingleDeviceSharding(jax.devices()[0])

    def sds(x):
        return jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=device)
    params = jax.tree.map(sds, nn.meta.unbox(abstract_params(cfg.model)))
    tx, _ = make_optimizer(cfg.optim)
    opt_state = jax.tree.map(sds, jax.eval_shape(tx.init, params))
    target = TrainState(step=sds(jax.ShapeDtypeStruct((), jnp.int32)), params=params,
                        opt_state=opt_state, rng=sds(jax.ShapeDtypeStruct((2,), jnp.uint32)))
    ckpt = Checkpointer(Path(run_dir) / "checkpoints", create=False)
    try:
        state, _, _ = ckpt.restore(target, step=step)
    finally:
        ckpt.close()
    return state.params


def load_params(path, step=None):
    """(params, MMTConfig) from a converted checkpoint or a training run folder.

    `path` holds `config.json` + `params/` (convert-reference, or the export at the end of
    training), or is a run folder with `train-config.json` + `checkpoints/` (then `step`, default
    latest, picks the checkpoint).
    """
    path = Path(path)
    if step is None and (path / CONFIG_FILE).is_file() and (path / "params").is_dir():
        return load_converted(path)
    cfg_path = path / TRAIN_CONFIG_FILE
    if not cfg_path.is_file():
        raise UserError(f"{path}: no MMT checkpoint here (needs {CONFIG_FILE} + params/, or "
                        f"{TRAIN_CONFIG_FILE} + checkpoints/)")
    cfg = config_from_dict(json.loads(cfg_path.read_text()))
    return restore_params(path, cfg, step), cfg.model


def config_from_dict(d: dict) -> Config:
    """Inverse of train_kit.config.to_dict for `Config`."""
    classes = {"data": DataConfig, "loss": LossConfig, "optim": OptimConfig,
               "train": TrainConfig, "mesh": MeshConfig}
    kwargs = {name: cls(**d[name]) for name, cls in classes.items() if name in d}
    if "model" in d:
        kwargs["model"] = MMTConfig.from_dict(d["model"])
    return Config(**kwargs)

"""Training MMT through train_kit's driver (reference §3): what is MMT's own in a training run.

`MMTTask` gives the driver the prepared data folder (prepared from the music21 corpus first
when `data.prepare_corpus` says so), the model, the loss and the grain pipelines of
mmt_jax.data; `train(cfg)` runs it (see train_kit.driver for the fixed order: distributed init,
mesh, sharded state, fit with validation, early stopping, checkpoints and resume, and the export
of the best parameters by validation loss as a run folder, run.json + params/, which
mmt_jax.load reads). The config sections live in mmt_jax.config.

The reference's early stopping fires on the 21st validation round without improvement
(`train.patience=21`); its validation loss is the plain mean of batch losses (what train_kit's
evaluation reports).
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np

from mmt_jax.config import Config, DataConfig
from mmt_jax.data import make_dataset
from mmt_jax.loss import make_eval_fn, make_loss_fn
from mmt_jax.model import MusicTransformer
from music_codecs.errors import UserError
from train_kit import driver


def _names_path(cfg: DataConfig, split: str) -> Path:
    given = cfg.train_names if split == "train" else cfg.valid_names
    return Path(given) if given else Path(cfg.path) / f"{split}-names.txt"


def _prepare_corpus(cfg: DataConfig) -> None:
    from mmt_jax import prepare

    print(f"preparing the {cfg.prepare_corpus} corpus into {cfg.path} (first run only)")
    items = prepare.corpus_items(None)
    if cfg.prepare_limit:
        items = items[: cfg.prepare_limit]
    report = prepare.prepare(items, cfg.path)
    print(prepare.summary({**report, "skipped": []}))


def ensure_data(cfg: DataConfig) -> None:
    """Check the prepared folder; prepare it from the corpus first when the config says so
    (on process 0 while the others wait, as they may share its file system)."""
    import jax

    if not cfg.path:
        raise UserError("no data folder: pass --data DIR (a folder made by `mmt-jax prepare`)")
    if not _names_path(cfg, "train").is_file() and cfg.prepare_corpus:
        if jax.process_index() == 0:
            _prepare_corpus(cfg)
        if jax.process_count() > 1:
            from jax.experimental import multihost_utils

            multihost_utils.sync_global_devices("mmt_jax.train.prepare")
    for split in ("train", "valid"):
        path = _names_path(cfg, split)
        if not path.is_file():
            raise UserError(
                f"{path}: not found; prepare the data first "
                f"(`mmt-jax prepare --input MIDI_DIR --out {cfg.path or 'DIR'}`)"
            )
    if not (Path(cfg.path) / "notes").is_dir():
        raise UserError(f"{cfg.path}: no notes/ folder (is it a folder made by `mmt-jax prepare`?)")


def make_pipelines(cfg: Config, process_index=0, process_count=1):
    """(training iterator with get_state/set_state, fn returning a fresh validation iterable);
    both give this process its rows of the global batch."""
    d = cfg.data
    common = dict(
        max_beat=d.max_beat,
        max_seq_len=cfg.model.max_seq_len,
        pad_to="max_seq_len" if d.pad_to_max else None,
        pad_multiple=d.pad_multiple,
        process_index=process_index,
        process_count=process_count,
        windows=d.windows,
    )
    notes = Path(d.path) / "notes"
    train_ds = make_dataset(
        notes, str(_names_path(d, "train")), d.batch_size, train=True, seed=cfg.train.seed, **common
    )
    valid_ds = make_dataset(
        notes, str(_names_path(d, "valid")), d.batch_size, train=False, fill_partial=True, **common
    )

    def eval_data():
        return itertools.islice(iter(valid_ds), d.eval_max_batches or None)

    return iter(train_ds.to_iter_dataset()), eval_data


class MMTTask(driver.Task):
    system = "mmt"

    def setup(self, cfg):
        ensure_data(cfg.data)
        return cfg, None

    def model(self, cfg):
        return MusicTransformer(cfg.model)

    def example_batch(self, cfg, data, rows):
        return {
            "codes": np.zeros((rows, 8, 6), np.int32),
            "mask": np.zeros((rows, 8), bool),
            "seq_len": np.zeros((rows,), np.int32),
        }

    def init_params(self, model, batch, rng):
        return model.init(rng, batch["codes"])["params"]

    def loss_fn(self, model, cfg):
        return make_loss_fn(model, cfg.loss.mask_padding)

    def eval_fn(self, model, cfg):
        return make_eval_fn(model, cfg.loss.mask_padding)

    def pipelines(self, cfg, data, rows, process_index, process_count):
        return make_pipelines(cfg, process_index, process_count)

    def describe(self, cfg, data, n_params):
        return f"MMT: {n_params:,} parameters"


def train(cfg: Config, progress=True):
    """Run (or resume) training; returns train_kit.driver's TrainResult."""
    return driver.train(MMTTask(), cfg, progress=progress)

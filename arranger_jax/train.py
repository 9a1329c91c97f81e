"""Training an Arranger model (reference §5): what is Arranger's own, for train_kit's one driver.

    result = train(cfg)   # cfg: arranger_jax.config.Config; -> train_kit.driver.TrainResult

Setup reads the prepared dataset (data.path, default data/arranger/<dataset>) and takes the
number of parts and the dataset name from its dataset.json. Training examples are random 500-note
windows (one per piece per pass, pieces in a fresh seeded permutation each pass), transposed by a
uniform shift, right-padded. The loss is cross-entropy over the K+1 classes; by default padding
positions count, as in the reference (class 0 is learnt as "padding"),
`data.mask_padding_in_loss=True` leaves them out. Validation: every validation piece from its
first note, up to `max_eval_len` notes, no augmentation, loss over real notes. After the export
(the best checkpoint by validation loss) the test split is scored; test_accuracy, test_notes, ...
go into run.json's metrics.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from arranger_jax import data as data_mod
from arranger_jax import features as F
from arranger_jax.config import DataConfig
from arranger_jax.predict import score_test
from train_kit.driver import Task
from train_kit.driver import train as drive


class WindowIterator:
    """Checkpointable stream of training batches (train_kit's iterator protocol).

    Batch b of pass e holds the windows of pieces order_e[b*B:(b+1)*B] (order_e a seeded
    permutation; a pass ends with the last full batch), B the global batch; process i of P
    yields rows [i*B/P, (i+1)*B/P) of it. Each window's start and shift are drawn from
    (seed, e, piece index), so a restored iterator repeats exactly what followed."""

    def __init__(self, pieces, num_parts, batch_size, cfg: DataConfig, process_index=0, process_count=1):
        if len(pieces) < batch_size:
            raise ValueError(f"{len(pieces)} training pieces cannot fill a batch of {batch_size}")
        self.pieces, self.k, self.cfg = pieces, num_parts, cfg
        self.batch_size = batch_size
        self.rows = _rows(batch_size, process_index, process_count)
        self.epoch, self.position = 0, 0

    def __iter__(self):
        return self

    def __next__(self):
        per_epoch = len(self.pieces) // self.batch_size
        if self.position >= per_epoch:
            self.epoch, self.position = self.epoch + 1, 0
        order = np.random.default_rng([self.cfg.seed, self.epoch]).permutation(len(self.pieces))
        chosen = order[self.position * self.batch_size : (self.position + 1) * self.batch_size]
        self.position += 1
        span = (
            None
            if self.cfg.transpose_low == self.cfg.transpose_high == 0
            else (self.cfg.transpose_low, self.cfg.transpose_high)
        )
        examples = []
        for index in chosen[self.rows]:
            rng = np.random.default_rng([self.cfg.seed, self.epoch, int(index), 1])
            examples.append(
                F.training_window(
                    self.pieces[index], self.k, rng, self.cfg.seq_len, span, self.cfg.reference_entry_hints
                )
            )
        inputs, targets = F.batch(examples)
        return {**inputs, "target": targets}

    def get_state(self):
        return {"epoch": self.epoch, "position": self.position}

    def set_state(self, state):
        self.epoch, self.position = int(state["epoch"]), int(state["position"])


def _rows(batch_size, process_index, process_count):
    return slice(
        process_index * batch_size // process_count, (process_index + 1) * batch_size // process_count
    )


def eval_batches(
    pieces, num_parts, cfg: DataConfig, max_len=None, multiple=64, process_index=0, process_count=1
):
    """Whole pieces (first `max_len` notes) padded to one length, in global batches of
    cfg.eval_batch_size (this process's rows of each); missing rows are all padding. Pieces are
    sorted by length."""
    max_len = cfg.max_eval_len if max_len is None else max_len
    examples = [F.piece_inputs(p, num_parts, max_len, cfg.reference_entry_hints) for p in pieces]
    examples.sort(key=lambda ex: len(ex[1]))
    out = []
    size = cfg.eval_batch_size
    rows = _rows(size, process_index, process_count)
    for i in range(0, len(examples), size):
        chunk = examples[i : i + size]
        length = -(-max(len(ex[1]) for ex in chunk) // multiple) * multiple
        padded = [(F.pad(inp, length), np.pad(t, (0, length - len(t)))) for inp, t in chunk]
        while len(padded) < size:
            empty = {k: np.zeros_like(v) for k, v in padded[0][0].items()}
            padded.append((empty, np.zeros(length, np.int64)))
        inputs, targets = F.batch(padded[rows])
        out.append({**inputs, "target": targets})
    return out


def _model_inputs(batch):
    return {k: v for k, v in batch.items() if k != "target"}


def make_loss_fn(model, mask_padding):
    import jax.numpy as jnp
    import optax

    def loss_fn(params, batch, rng):
        logits = model.apply({"params": params}, _model_inputs(batch), train=True, rngs={"dropout": rng})
        target = batch["target"]
        ce = optax.softmax_cross_entropy_with_integer_labels(logits.astype(jnp.float32), target)
        real = (target > 0).astype(jnp.float32)
        loss = jnp.sum(ce * real) / jnp.maximum(real.sum(), 1) if mask_padding else jnp.mean(ce)
        correct = (jnp.argmax(logits[..., 1:], -1) + 1 == target).astype(jnp.float32)
        return loss, {"accuracy": jnp.sum(correct * real) / jnp.maximum(real.sum(), 1)}

    return loss_fn


def make_eval_fn(model):
    import jax.numpy as jnp
    import optax

    def eval_fn(params, batch):
        logits = model.apply({"params": params}, _model_inputs(batch), train=False)
        target = batch["target"]
        ce = optax.softmax_cross_entropy_with_integer_labels(logits.astype(jnp.float32), target)
        real = (target > 0).astype(jnp.float32)
        n = jnp.maximum(real.sum(), 1)
        correct = (jnp.argmax(logits[..., 1:], -1) + 1 == target).astype(jnp.float32)
        return jnp.sum(ce * real) / n, {"accuracy": jnp.sum(correct * real) / n}

    return eval_fn


class ArrangerTask(Task):
    system = "arranger"

    def setup(self, cfg):
        from arranger_jax import labels
        from music_codecs.errors import UserError

        folder = cfg.data.folder()
        if not (Path(folder) / "dataset.json").exists():
            raise UserError(
                f"{folder}: no prepared dataset (run `arranger-jax prepare "
                f"{cfg.data.dataset} --out {folder}` or set --data)"
            )
        dataset = data_mod.dataset_info(folder)["dataset"]
        # the data decide the parts; run.json records the folder and dataset actually used
        cfg = dataclasses.replace(
            cfg,
            model=dataclasses.replace(cfg.model, num_parts=labels.num_parts(dataset)),
            data=dataclasses.replace(cfg.data, path=folder, dataset=dataset),
        )
        splits = data_mod.load_dataset(folder)
        if len(splits["train"]) < cfg.data.batch_size:
            raise UserError(
                f"{folder}: {len(splits['train'])} training pieces cannot fill a batch of "
                f"data.batch_size={cfg.data.batch_size}"
            )
        return cfg, splits

    def model(self, cfg):
        from arranger_jax.models import build_model

        return build_model(cfg.model)

    def example_batch(self, cfg, data, rows):
        return next(WindowIterator(data["train"], cfg.model.num_parts, rows, cfg.data))

    def init_params(self, model, batch, rng):
        return model.init(rng, _model_inputs(batch))["params"]

    def loss_fn(self, model, cfg):
        return make_loss_fn(model, cfg.data.mask_padding_in_loss)

    def eval_fn(self, model, cfg):
        return make_eval_fn(model)

    def pipelines(self, cfg, data, rows, process_index, process_count):
        k = cfg.model.num_parts
        train_iter = WindowIterator(
            data["train"], k, cfg.data.batch_size, cfg.data, process_index, process_count
        )
        if not data["valid"]:
            return train_iter, None
        valid = eval_batches(
            data["valid"], k, cfg.data, process_index=process_index, process_count=process_count
        )
        return train_iter, lambda: iter(valid)

    def after_export(self, cfg, data, model, params, result):
        if not data["test"]:
            return {}
        return score_test(model, params, data["test"], cfg.model.num_parts, cfg.data)

    def describe(self, cfg, data, n_params):
        from arranger_jax.models import fixed_table_size

        return (
            f"{cfg.model.name}: {n_params + fixed_table_size(cfg.model):,} parameters (fixed tables "
            f"included), {len(data['train'])} training pieces"
        )


def train(cfg, progress=True):
    return drive(ArrangerTask(), cfg, progress=progress)

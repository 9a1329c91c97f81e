"""Training an Arranger model with train_kit (spec §5).

An experiment config (configs/arranger/*.py) holds: `model` (ArrangerConfig), `data`
(ArrangerDataConfig), `optim`, `train`, `mesh` (train_kit sections) and `batch_size`.

Training examples are random 500-note windows (one per piece per pass, pieces in a fresh seeded
permutation each pass), transposed by a uniform shift, right-padded. The loss is cross-entropy
over the K+1 classes; by default padding positions count, as in the reference (class 0 is learnt
as "padding"), `data.mask_padding_in_loss=True` leaves them out. Validation: every validation
piece from its first note, up to `max_eval_len` notes, no augmentation, loss over real notes.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from arranger_jax import data as data_mod, features as F
from arranger_jax.models import ArrangerConfig
from train_kit.config import MeshConfig, OptimConfig, TrainConfig


@dataclasses.dataclass(frozen=True)
class ArrangerDataConfig:
    path: str = ""  # dataset folder from `arranger-jax prepare` ("" = the default for `dataset`)
    dataset: str = "bach"
    seq_len: int = F.TRAIN_LENGTH
    transpose_low: int = F.STRONG_TRANSPOSE[0]  # "strong" augmentation; (0, 0) = none
    transpose_high: int = F.STRONG_TRANSPOSE[1]
    max_eval_len: int = F.EVAL_LENGTH
    reference_entry_hints: bool = False  # reproduce the channel shift and window misplacement
    mask_padding_in_loss: bool = False
    eval_batch_size: int = 8
    seed: int = 0

    def folder(self):
        return self.path or str(data_mod.default_data_dir(self.dataset))


@dataclasses.dataclass(frozen=True)
class ArrangerExperiment:
    model: ArrangerConfig = ArrangerConfig()
    data: ArrangerDataConfig = ArrangerDataConfig()
    optim: OptimConfig = OptimConfig(lr=1e-3, eps=1e-7)  # Keras Adam defaults
    train: TrainConfig = TrainConfig(max_steps=100 * 500, eval_every=500, patience=5,
                                     keep_best_metric="eval_loss", log_every=100)
    mesh: MeshConfig = MeshConfig()
    batch_size: int = 16


class WindowIterator:
    """Checkpointable stream of training batches (train_kit's iterator protocol).

    Batch b of pass e holds the windows of pieces order_e[b*B:(b+1)*B] (order_e a seeded
    permutation; a pass ends with the last full batch). Each window's start and shift are drawn
    from (seed, e, piece index), so a restored iterator repeats exactly what followed."""

    def __init__(self, pieces, num_parts, batch_size, cfg: ArrangerDataConfig,
                 process_index=0, process_count=1):
        if len(pieces) < batch_size:
            raise ValueError(f"{len(pieces)} training pieces cannot fill a batch of {batch_size}")
        self.pieces, self.k, self.cfg = pieces, num_parts, cfg
        self.batch_size = batch_size
        self.rows = slice(process_index * batch_size // process_count,
                          (process_index + 1) * batch_size // process_count)
        self.epoch, self.position = 0, 0

    def __iter__(self):
        return self

    def __next__(self):
        per_epoch = len(self.pieces) // self.batch_size
        if self.position >= per_epoch:
            self.epoch, self.position = self.epoch + 1, 0
        order = np.random.default_rng([self.cfg.seed, self.epoch]).permutation(len(self.pieces))
        chosen = order[self.position * self.batch_size:(self.position + 1) * self.batch_size]
        self.position += 1
        span = None if self.cfg.transpose_low == self.cfg.transpose_high == 0 else \
            (self.cfg.transpose_low, self.cfg.transpose_high)
        examples = []
        for index in chosen[self.rows]:
            rng = np.random.default_rng([self.cfg.seed, self.epoch, int(index), 1])
            examples.append(F.training_window(self.pieces[index], self.k, rng, self.cfg.seq_len, span,
                                              self.cfg.reference_entry_hints))
        inputs, targets = F.batch(examples)
        return {**inputs, "target": targets}

    def get_state(self):
        return {"epoch": self.epoch, "position": self.position}

    def set_state(self, state):
        self.epoch, self.position = int(state["epoch"]), int(state["position"])


def eval_batches(pieces, num_parts, cfg: ArrangerDataConfig, max_len=None, multiple=64):
    """Whole pieces (first `max_len` notes) padded to one length, in batches of
    cfg.eval_batch_size; missing rows are all padding. Pieces are sorted by length."""
    max_len = cfg.max_eval_len if max_len is None else max_len
    examples = [F.piece_inputs(p, num_parts, max_len, cfg.reference_entry_hints) for p in pieces]
    examples.sort(key=lambda ex: len(ex[1]))
    out = []
    size = cfg.eval_batch_size
    for i in range(0, len(examples), size):
        chunk = examples[i:i + size]
        length = -(-max(len(ex[1]) for ex in chunk) // multiple) * multiple
        padded = [(F.pad(inp, length), np.pad(t, (0, length - len(t)))) for inp, t in chunk]
        while len(padded) < size:
            empty = {k: np.zeros_like(v) for k, v in padded[0][0].items()}
            padded.append((empty, np.zeros(length, np.int64)))
        inputs, targets = F.batch(padded)
        out.append({**inputs, "target": targets})
    return out


def _model_inputs(batch):
    return {k: v for k, v in batch.items() if k != "target"}


def make_loss_fn(model, mask_padding):
    import jax.numpy as jnp
    import optax

    def loss_fn(params, batch, rng):
        logits = model.apply({"params": params}, _model_inputs(batch), train=True,
                             rngs={"dropout": rng})
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


def predict_pieces(model, params, pieces, num_parts, cfg: ArrangerDataConfig, max_len=None):
    """Part predictions (0..K-1) per piece, for its first `max_len` notes (None: every note)."""
    import jax

    apply = jax.jit(lambda p, x: model.apply({"params": p}, x, train=False))
    out = {}
    examples = [F.piece_inputs(p, num_parts, max_len, cfg.reference_entry_hints) for p in pieces]
    for piece, (inputs, _) in zip(pieces, examples):
        n = len(inputs["pitch"])
        length = -(-n // 64) * 64  # a few padded lengths instead of one compile per piece
        batch = {k: v[None] for k, v in F.pad(inputs, length).items()}
        logits = np.asarray(apply(params, batch))[0, :n]
        out[piece.name] = np.argmax(logits[:, 1:], -1)
    return [out[p.name] for p in pieces]


def table_key(model_cfg: ArrangerConfig):
    """The Table 2 row of a model config (see paper_results)."""
    base = {("lstm", True): "lstm", ("lstm", False): "bilstm", ("transformer", True): "transformer_dec",
            ("transformer", False): "transformer_enc"}[(model_cfg.arch, model_cfg.online)]
    return base + ("_eh" if model_cfg.use_entry_hints else "")


def run_training(exp: ArrangerExperiment, progress=True):
    """Train, keep the best checkpoint by validation loss, score the test split.
    Returns a dict with the fit status and the test metrics."""
    import json
    import os

    import jax

    from arranger_jax import labels, metrics as M
    from arranger_jax.models import build_model, count_parameters
    from music_codecs.errors import UserError
    from train_kit.checkpoint import Checkpointer
    from train_kit.config import to_dict
    from train_kit.fit import fit
    from train_kit.mesh import batch_sharding, make_mesh, maybe_initialize_distributed
    from train_kit.optim import learning_rate, make_optimizer
    from train_kit.sharding import create_train_state
    from train_kit.step import make_eval_step, make_train_step

    folder = exp.data.folder()
    info = data_mod.dataset_info(folder) if os.path.exists(os.path.join(folder, "dataset.json")) else None
    if info is None:
        raise UserError(f"{folder}: no prepared dataset (run `arranger-jax prepare {exp.data.dataset}`)")
    k = labels.num_parts(info["dataset"])
    if exp.model.num_parts != k:
        exp = dataclasses.replace(exp, model=dataclasses.replace(exp.model, num_parts=k))
    splits = data_mod.load_dataset(folder)
    if exp.train.out_dir and jax.process_index() == 0:  # what `load_trained` rebuilds the model from
        os.makedirs(exp.train.out_dir, exist_ok=True)
        with open(os.path.join(exp.train.out_dir, "experiment.json"), "w") as f:
            json.dump({**to_dict(exp), "dataset": info["dataset"]}, f, indent=2)
    maybe_initialize_distributed(exp.mesh)
    mesh = make_mesh(exp.mesh)
    model = build_model(exp.model)
    tx, schedule = make_optimizer(exp.optim)
    train_iter = WindowIterator(splits["train"], k, exp.batch_size, exp.data,
                                jax.process_index(), jax.process_count())
    example = next(WindowIterator(splits["train"], k, exp.batch_size, exp.data))
    init_fn = lambda rng: model.init(rng, _model_inputs(example))["params"]  # noqa: E731
    state, shardings = create_train_state(init_fn, tx, mesh, exp.train.seed)
    print(f"{exp.model.name}: {count_parameters(state.params, exp.model):,} parameters "
          f"(fixed tables included), {len(splits['train'])} training pieces")
    sharding = batch_sharding(mesh)
    train_step = make_train_step(make_loss_fn(model, exp.data.mask_padding_in_loss), tx, shardings,
                                 sharding)
    valid = eval_batches(splits["valid"], k, exp.data) if splits["valid"] else []
    eval_step = make_eval_step(make_eval_fn(model), shardings.params, sharding) if valid else None
    result = fit(state, train_step, train_iter, exp.train, mesh=mesh, eval_step=eval_step,
                 eval_data=lambda: iter(valid), lr_fn=lambda s: learning_rate(schedule, s, exp.optim))
    params = result.state.params
    if exp.train.out_dir and exp.train.keep_best_metric:
        ckpt = Checkpointer(os.path.join(exp.train.out_dir, "checkpoints"), create=False,
                            best_metric=exp.train.keep_best_metric, best_mode=exp.train.best_mode)
        best = ckpt.best_step()
        if best is not None and best != result.step:  # the state at the lowest validation loss
            params = ckpt.restore(target=result.state, step=best)[0].params
        ckpt.close()
    test = splits["test"]
    scores = {}
    if test:
        preds = predict_pieces(model, params, test, k, exp.data, exp.data.max_eval_len)
        truth = [p.label[:len(pr)] for p, pr in zip(test, preds)]
        scores = M.evaluate(preds, truth, k)
    out = {"model": exp.model.name, "table_key": table_key(exp.model), "dataset": info["dataset"],
           "status": result.status, "steps": result.step, "best_step": result.best_step,
           "best_eval_loss": result.best_metric, "test": scores}
    if exp.train.out_dir and jax.process_index() == 0:
        with open(os.path.join(exp.train.out_dir, "test_results.json"), "w") as f:
            json.dump(out, f, indent=2)
    return out


def load_trained(run_dir):
    """(ArrangerConfig, params, dataset) of a run folder written by `run_training`, with the
    parameters of the best checkpoint by validation loss (else the latest)."""
    import json
    import os

    import jax

    from arranger_jax.models import build_model
    from music_codecs.errors import UserError
    from train_kit.checkpoint import Checkpointer
    from train_kit.mesh import make_mesh
    from train_kit.optim import make_optimizer
    from train_kit.sharding import create_train_state

    info_path = os.path.join(run_dir, "experiment.json")
    if not os.path.exists(info_path):
        raise UserError(f"{run_dir}: not a training run (no experiment.json)")
    with open(info_path) as f:
        saved = json.load(f)
    config = ArrangerConfig(**saved["model"])
    tx, _ = make_optimizer(OptimConfig(**saved["optim"]))
    model = build_model(config)
    example = F.batch([F.piece_inputs(data_mod.Piece("x", [0], [60], [24], [64], [0]),
                                      config.num_parts)])[0]
    mesh = make_mesh(MeshConfig(), devices=jax.devices()[:1])
    state, _ = create_train_state(lambda rng: model.init(rng, example)["params"], tx, mesh)
    ckpt = Checkpointer(os.path.join(run_dir, "checkpoints"), create=False,
                        best_metric=saved["train"]["keep_best_metric"],
                        best_mode=saved["train"]["best_mode"])
    try:
        step = ckpt.best_step() if saved["train"]["keep_best_metric"] else None
        state = ckpt.restore(target=state, step=step)[0]
    finally:
        ckpt.close()
    return config, state.params, saved["dataset"]


def save_params_as_run(run_dir, exp: ArrangerExperiment, params, dataset):
    """Write a run folder (experiment.json + a step-0 checkpoint) around given parameters, e.g.
    converted reference weights, so that `load_trained` and `arranger-jax instrument` can use it."""
    import json
    import os

    import jax

    from arranger_jax.models import build_model
    from train_kit.checkpoint import Checkpointer
    from train_kit.config import to_dict
    from train_kit.mesh import make_mesh
    from train_kit.optim import make_optimizer
    from train_kit.sharding import create_train_state

    exp = dataclasses.replace(exp, train=dataclasses.replace(exp.train, keep_best_metric="", out_dir=str(run_dir)))
    os.makedirs(run_dir, exist_ok=True)
    with open(os.path.join(run_dir, "experiment.json"), "w") as f:
        json.dump({**to_dict(exp), "dataset": dataset}, f, indent=2)
    tx, _ = make_optimizer(exp.optim)
    model = build_model(exp.model)
    example = F.batch([F.piece_inputs(data_mod.Piece("x", [0], [60], [24], [64], [0]), exp.model.num_parts)])[0]
    mesh = make_mesh(MeshConfig(), devices=jax.devices()[:1])
    state, _ = create_train_state(lambda rng: model.init(rng, example)["params"], tx, mesh)
    params = jax.tree.map(lambda ref, new: jax.device_put(np.asarray(new, ref.dtype), ref.sharding),
                          state.params, params)
    state = state.replace(params=params)
    ckpt = Checkpointer(os.path.join(run_dir, "checkpoints"), keep_last=1, async_save=False)
    try:
        ckpt.save(0, state, data_state={}, extra={})
        ckpt.wait()
    finally:
        ckpt.close()

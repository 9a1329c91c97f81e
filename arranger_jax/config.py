"""Arranger's config dataclasses (light: config files and run loading import only this).

Config                 an experiment: model (ArrangerConfig), data (DataConfig), optim, train,
                       mesh (train_kit's sections)
ArrangerConfig         the labeller's architecture and inputs (reference §4)
DataConfig             the dataset folder, the global batch, windows, augmentation
experiment(dataset, arch, online, entry_hints, ...)   the paper's setting (reference §4-5)
reference_config(name) / reference_name(config)     the released checkpoints' folder names
table_key(config)      the paper's Table 2 row of a model
default_data_path(dataset) = "data/arranger/<dataset>", where `prepare` writes and `train`
                       reads when data.path is ""
"""

from __future__ import annotations

import dataclasses

from arranger_jax import features as F
from music_codecs.errors import UserError
from train_kit.config import MeshConfig, OptimConfig, TrainConfig

TIME_ENCODINGS = ("beat_position", "time", "raw_time", "raw_beat_position")
DATA_ROOT = "data/arranger"


def default_data_path(dataset):
    return f"{DATA_ROOT}/{dataset}"


@dataclasses.dataclass(frozen=True)
class ArrangerConfig:
    num_parts: int = 4  # set from the dataset when training
    arch: str = "lstm"  # "lstm" or "transformer"
    online: bool = True  # LSTM vs BiLSTM; Transformer-Dec (causal) vs Transformer-Enc
    embedding: bool = True  # False: the reference's "default" input, raw pitch index and raw time
    time_encoding: str = "beat_position"  # with embedding: see TIME_ENCODINGS
    use_frequency: bool = True  # with embedding
    use_duration: bool = False
    use_entry_hints: bool = False
    use_pitch_hints: bool = False
    units: int = 128
    layers: int = 3
    dropout: float = 0.2
    heads: int = 8
    ffn_units: int = 256
    max_positions: int = F.EVAL_LENGTH  # positional-encoding table of the Transformer

    def __post_init__(self):
        if self.arch not in ("lstm", "transformer"):
            raise UserError(f"unknown arch {self.arch!r}; choose lstm or transformer")
        if self.time_encoding not in TIME_ENCODINGS:
            raise UserError(f"unknown time_encoding {self.time_encoding!r}; choose one of {TIME_ENCODINGS}")

    @property
    def name(self):
        return reference_name(self)


@dataclasses.dataclass(frozen=True)
class DataConfig:
    path: str = ""  # folder from `arranger-jax prepare`; "" = default_data_path(dataset)
    dataset: str = "bach"  # set from the folder's dataset.json when training
    batch_size: int = 16  # the global batch (all processes together)
    seq_len: int = F.TRAIN_LENGTH
    transpose_low: int = F.STRONG_TRANSPOSE[0]  # "strong" augmentation; (0, 0) = none
    transpose_high: int = F.STRONG_TRANSPOSE[1]
    max_eval_len: int = F.EVAL_LENGTH
    reference_entry_hints: bool = False  # reproduce the channel shift and window misplacement
    mask_padding_in_loss: bool = False
    eval_batch_size: int = 8  # global, like batch_size
    seed: int = 0

    def folder(self):
        return self.path or default_data_path(self.dataset)


@dataclasses.dataclass(frozen=True)
class Config:
    model: ArrangerConfig = ArrangerConfig()
    data: DataConfig = DataConfig()
    optim: OptimConfig = OptimConfig(lr=1e-3, eps=1e-7)  # Keras Adam defaults
    train: TrainConfig = TrainConfig(
        max_steps=100 * 500, eval_every=500, patience=5, keep_best_metric="eval_loss", log_every=100
    )
    mesh: MeshConfig = MeshConfig()


# The Table 2 row names of (arch, online); "_eh" is appended for entry hints.
_ROWS = {
    ("lstm", True): "lstm",
    ("lstm", False): "bilstm",
    ("transformer", True): "transformer_dec",
    ("transformer", False): "transformer_enc",
}


def table_key(model: ArrangerConfig):
    """The Table 2 row of a model config (see paper_results)."""
    return _ROWS[(model.arch, model.online)] + ("_eh" if model.use_entry_hints else "")


def experiment(
    dataset="bach", arch="lstm", online=True, entry_hints=False, duration=None, out_dir=None, **model
):
    """The paper's setting: pitch/beat/position embeddings + frequency; the offline models also
    take durations when they use entry hints (the released *_onsethint_duration checkpoints).
    The run goes to runs/arranger/<dataset>_<table key> unless `out_dir` is given."""
    if duration is None:
        duration = (not online) and entry_hints
    model_cfg = ArrangerConfig(
        arch=arch, online=online, use_entry_hints=entry_hints, use_duration=duration, **model
    )
    cfg = Config(model=model_cfg, data=DataConfig(dataset=dataset))
    return dataclasses.replace(
        cfg,
        train=dataclasses.replace(
            cfg.train, out_dir=out_dir or f"runs/arranger/{dataset}_{table_key(model_cfg)}"
        ),
    )


# The reference's checkpoint folders (reference §3.2): "default" = Transformer-Enc / "lookahead" =
# Transformer-Dec, "bidirectional" = BiLSTM; suffixes add inputs.
def reference_config(name, num_parts=4, **overrides):
    """ArrangerConfig for a reference folder name such as "lstm/bidirectional_embedding_onsethint"."""
    try:
        arch, folder = name.split("/")
        head, *flags = folder.split("_")
    except ValueError:
        raise UserError(f"bad reference model name {name!r} (expected e.g. lstm/default_embedding)") from None
    known = {"embedding", "onsethint", "duration", "pitchhint"}
    if (
        arch not in ("lstm", "transformer")
        or head not in ("default", "bidirectional", "lookahead")
        or not set(flags) <= known
    ):
        raise UserError(f"bad reference model name {name!r}")
    online = {"lstm": head == "default", "transformer": head == "lookahead"}[arch]
    return ArrangerConfig(
        num_parts=num_parts,
        arch=arch,
        online=online,
        embedding="embedding" in flags,
        use_duration="duration" in flags,
        use_entry_hints="onsethint" in flags,
        use_pitch_hints="pitchhint" in flags,
        **overrides,
    )


def reference_name(config):
    head = (
        ("default" if config.online else "bidirectional")
        if config.arch == "lstm"
        else ("lookahead" if config.online else "default")
    )
    flags = [
        f
        for f, on in (
            ("embedding", config.embedding),
            ("onsethint", config.use_entry_hints),
            ("duration", config.use_duration),
            ("pitchhint", config.use_pitch_hints),
        )
        if on
    ]
    return f"{config.arch}/" + "_".join([head] + flags)

"""MMT's configuration: the model settings and the sections of a training run (reference §2, §3).

Config files (configs/mmt/*.py) import only this module and train_kit.config; nothing here
imports JAX, Flax or training code, so reading a config or a run's run.json stays cheap.

    Config(model=MMTConfig(...), data=DataConfig(path=..., batch_size=8), loss=LossConfig(),
           optim=paper_optim(), train=TrainConfig(...), mesh=MeshConfig())
    cfg = train_kit.config.from_dict(Config, run_json["config"])     # the inverse of to_dict

`data.batch_size` is the global batch (split over the processes and the data x fsdp devices).
Reference parity notes: the reference loss counts padded rows (`loss.mask_padding=False`), pads
each batch to its longest sequence (`data.pad_to_max=False data.pad_multiple=1`) and cuts long
pieces into windows that end in end-of-song (`data.windows=reference`).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from train_kit.config import ConfigError, MeshConfig, OptimConfig, TrainConfig, from_dict, to_dict

FIELDS = ("type", "beat", "position", "pitch", "duration", "instrument")
POS_EMBS = ("absolute", "rotary", "none")
ATTENTIONS = ("einsum", "dot_product", "chunked")
REMATS = ("none", "full", "dots", "dots_no_batch")


def _dtype_name(value) -> str:
    """The dtype's name ("float32", "bfloat16") of a name, a NumPy type or a jnp type."""
    import ml_dtypes  # noqa: F401  (NumPy-only; registers the name "bfloat16" with NumPy)

    try:
        return np.dtype(getattr(value, "dtype", value)).name
    except TypeError as err:
        raise ValueError(f"{value!r} is not a dtype") from err


@dataclasses.dataclass(frozen=True)
class MMTConfig:
    """Static model settings (hashable, so it can be a static jit argument)."""

    dim: int = 512
    depth: int = 6
    heads: int = 8
    head_dim: int = 64
    ff_mult: int = 4
    vocab_sizes: tuple[int, ...] = (5, 257, 13, 129, 33, 65)
    max_seq_len: int = 1024
    dropout: float = 0.2
    pos_emb: str = "absolute"
    # x-transformers: max(head_dim // 2, 32) dims of each head are rotated (None = that rule).
    rotary_dim: int | None = None
    # Compute and parameter dtypes, kept as names ("float32", "bfloat16"); jnp types such as
    # jnp.bfloat16 are accepted and normalised, so configs stay hashable, comparable and JSON-able.
    dtype: str = "float32"
    param_dtype: str = "float32"
    # Full-pass attention: "einsum" (the reference's: dropout on the attention probabilities,
    # padded rows as the reference, attention maps sown) or "dot_product"
    # (jax.nn.dot_product_attention: cuDNN's fused kernel on GPU in bf16; no attention dropout,
    # no maps; right padding assumed, and padded query rows see the real keys instead of the
    # reference's uniform row, so keep "einsum" with loss.mask_padding=False), or "chunked"
    # (mmt_jax.chunked_attention: dot_product's function in causal query chunks with a written-out
    # backward pass, the fast one where no fused kernel exists, as on CPU).
    attention: str = "einsum"
    # Rematerialisation of each block in the backward pass: "none", "full" (keep nothing),
    # "dots" (keep matmul outputs), "dots_no_batch" (keep those without batch dimensions).
    remat: str = "none"

    def __post_init__(self):
        object.__setattr__(self, "vocab_sizes", tuple(int(n) for n in self.vocab_sizes))
        for key in ("dtype", "param_dtype"):
            try:
                object.__setattr__(self, key, _dtype_name(getattr(self, key)))
            except ValueError as err:
                raise ValueError(f"{key}={getattr(self, key)!r} is not a dtype") from err
        if self.pos_emb not in POS_EMBS:
            raise ValueError(f"pos_emb must be one of {POS_EMBS}, got {self.pos_emb!r}")
        if self.attention not in ATTENTIONS:
            raise ValueError(f"attention must be one of {ATTENTIONS}, got {self.attention!r}")
        if self.remat not in REMATS:
            raise ValueError(f"remat must be one of {REMATS}, got {self.remat!r}")
        if len(self.vocab_sizes) != len(FIELDS):
            raise ValueError(f"vocab_sizes needs {len(FIELDS)} entries, got {self.vocab_sizes}")
        if self.pos_emb == "rotary" and not (
            0 < self.rotary_dims <= self.head_dim and self.rotary_dims % 2 == 0
        ):
            raise ValueError(f"rotary dim {self.rotary_dims} must be even and <= head_dim {self.head_dim}")

    @property
    def rotary_dims(self) -> int:
        return self.rotary_dim if self.rotary_dim is not None else max(self.head_dim // 2, 32)

    @property
    def inner_dim(self) -> int:
        return self.heads * self.head_dim

    @classmethod
    def tiny(cls, **overrides) -> "MMTConfig":
        """A few-hundred-thousand-parameter model for tests and CPU runs."""
        settings = dict(dim=64, depth=2, heads=4, head_dim=16, max_seq_len=128, rotary_dim=8)
        settings.update(overrides)
        return cls(**settings)

    def to_dict(self) -> dict:
        """A JSON-friendly dict (dtypes by name); `from_dict` inverts it."""
        return to_dict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "MMTConfig":
        return from_dict(cls, d)


@dataclasses.dataclass(frozen=True)
class DataConfig:
    """A folder made by `mmt-jax prepare` (the reference's layout: notes/, *-names.txt)."""

    path: str = ""
    train_names: str = ""  # default <path>/train-names.txt
    valid_names: str = ""  # default <path>/valid-names.txt
    batch_size: int = 8  # the global batch (split over processes and data x fsdp)
    max_beat: int = 256  # must equal model.vocab_sizes[1] - 1
    pad_to_max: bool = True  # pad every batch to model.max_seq_len: one compiled shape
    pad_multiple: int = 64  # without pad_to_max: longest row count rounded up to this
    eval_max_batches: int = 0  # 0: the whole validation split each round
    prepare_corpus: str = ""  # "music21": prepare `path` from the music21 corpus if missing
    prepare_limit: int = 0  # with prepare_corpus: only the first N pieces (0 = all)
    # "events": random windows of whole rows, end-of-song only at a piece's true end (teaches
    # length); "reference": the reference's 256-beat window, capped rows keep end-of-song.
    windows: str = "events"


@dataclasses.dataclass(frozen=True)
class LossConfig:
    mask_padding: bool = True  # False: the reference's loss (padding rows are class-0 targets)


@dataclasses.dataclass(frozen=True)
class Config:
    model: MMTConfig = MMTConfig()
    data: DataConfig = DataConfig()
    loss: LossConfig = LossConfig()
    optim: OptimConfig = OptimConfig()
    train: TrainConfig = TrainConfig()
    mesh: MeshConfig = MeshConfig()

    def __post_init__(self):
        if self.data.windows not in ("events", "reference"):
            raise ConfigError(f"data.windows must be 'events' or 'reference', got {self.data.windows!r}")
        if self.data.max_beat + 1 != self.model.vocab_sizes[1]:
            raise ConfigError(
                f"data.max_beat={self.data.max_beat} does not fit the model's beat "
                f"vocabulary of {self.model.vocab_sizes[1]} (needs max_beat + 1)"
            )

    @classmethod
    def for_model(cls, model: MMTConfig) -> "Config":
        """Defaults around a given model (a converted checkpoint): max_beat follows its vocab."""
        return cls(model=model, data=DataConfig(max_beat=model.vocab_sizes[1] - 1))


def paper_optim(**overrides) -> OptimConfig:
    """Adam 5e-4, warm-up (s+1)/5000, linear decay to 0.1x at step 100k, clip 1.0 (reference §3)."""
    settings = dict(
        name="adam",
        lr=5e-4,
        warmup_steps=5000,
        warmup_offset=1,
        decay="linear",
        decay_steps=100_000,
        final_lr_fraction=0.1,
        clip_norm=1.0,
    )
    settings.update(overrides)
    return OptimConfig(**settings)

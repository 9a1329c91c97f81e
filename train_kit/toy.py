"""Tiny Linen models with logical partitioning, for tests, benchmarks and examples.

    ToyMLP(features=32, hidden=64)                     x [B, features] -> y [B, features]
    ToyTransformer(vocab=32, embed=32, heads=4, mlp=64, layers=1, dropout=0.0)
                                                       tokens [B, T] -> logits [B, T, vocab]
    mlp_loss(model)  -> loss_fn(params, batch, rng)     mean squared error on {"x", "y"}
    lm_loss(model)   -> loss_fn(params, batch, rng)     next-token cross-entropy on {"tokens"}
    random_tokens(n, length, vocab, seed) / random_regression(n, features, seed)  NumPy data
    ToyTask, ToyConfig                                  the counting-sequence LM through the
                                                        one driver: driver.train(ToyTask(), cfg)

Every kernel carries logical axis names from sharding.DEFAULT_RULES; activations are
constrained to ("batch", "length", "embed").
"""

from __future__ import annotations

import dataclasses

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from train_kit.config import MeshConfig, OptimConfig, TrainConfig
from train_kit.driver import Task


class Proj(nn.Module):
    """x [..., *in_shape] @ kernel [*in_shape, *out_shape]; kernel dims carry logical names.

    (Linen's DenseGeneral initialises multi-axis kernels flat and reshapes them, which clashes
    with a 3-name logical box under a mesh; an explicit param and einsum keeps the shape whole.)
    """

    in_shape: tuple
    out_shape: tuple
    names: tuple

    @nn.compact
    def __call__(self, x):
        fan_in = int(np.prod(self.in_shape))
        init = nn.initializers.normal(1.0 / np.sqrt(fan_in))
        kernel = self.param(
            "kernel",
            nn.with_logical_partitioning(init, self.names),
            tuple(self.in_shape) + tuple(self.out_shape),
        )
        letters = "ijklmn"
        k_in, k_out = letters[: len(self.in_shape)], letters[len(self.in_shape) :][: len(self.out_shape)]
        return jnp.einsum(f"...{k_in},{k_in}{k_out}->...{k_out}", x, kernel.astype(x.dtype))


def _dense(in_shape, out_shape, names, name):
    return Proj(tuple(np.atleast_1d(in_shape)), tuple(np.atleast_1d(out_shape)), names, name=name)


class ToyMLP(nn.Module):
    features: int = 32
    hidden: int = 64

    @nn.compact
    def __call__(self, x, deterministic=True):
        h = nn.gelu(_dense(x.shape[-1], self.hidden, ("embed", "mlp"), "up")(x))
        h = nn.with_logical_constraint(h, ("batch", "mlp"))
        return _dense(self.hidden, self.features, ("mlp", "embed"), "down")(h)


class Block(nn.Module):
    embed: int
    heads: int
    mlp: int
    dropout: float = 0.0

    @nn.compact
    def __call__(self, x, deterministic=True):
        head_dim = self.embed // self.heads
        ones = nn.with_logical_partitioning(nn.initializers.ones, ("norm",))
        norm = lambda name: nn.LayerNorm(name=name, use_bias=False, scale_init=ones)  # noqa: E731
        h = norm("ln_attn")(x)
        q, k, v = (_dense(self.embed, (self.heads, head_dim), ("embed", "heads", "kv"), n)(h) for n in "qkv")
        length = x.shape[1]
        mask = jnp.tril(jnp.ones((length, length), bool))
        logits = jnp.einsum("bqhd,bkhd->bhqk", q, k) / np.sqrt(head_dim).astype(q.dtype)
        logits = jnp.where(mask, logits, jnp.finfo(logits.dtype).min)
        attn = jax.nn.softmax(logits.astype(jnp.float32), axis=-1).astype(v.dtype)
        o = jnp.einsum("bhqk,bkhd->bqhd", attn, v)
        o = _dense((self.heads, head_dim), self.embed, ("heads", "kv", "embed"), "out")(o)
        x = x + nn.Dropout(self.dropout)(o, deterministic=deterministic)
        x = nn.with_logical_constraint(x, ("batch", "length", "embed"))
        h = nn.gelu(_dense(self.embed, self.mlp, ("embed", "mlp"), "up")(norm("ln_mlp")(x)))
        h = nn.with_logical_constraint(h, ("batch", "length", "mlp"))
        h = _dense(self.mlp, self.embed, ("mlp", "embed"), "down")(h)
        x = x + nn.Dropout(self.dropout)(h, deterministic=deterministic)
        return nn.with_logical_constraint(x, ("batch", "length", "embed"))


class ToyTransformer(nn.Module):
    vocab: int = 32
    embed: int = 32
    heads: int = 4
    mlp: int = 64
    layers: int = 1
    dropout: float = 0.0

    @nn.compact
    def __call__(self, tokens, deterministic=True):
        table = nn.Embed(
            self.vocab,
            self.embed,
            name="embed",
            embedding_init=nn.with_logical_partitioning(nn.initializers.normal(1.0), ("vocab", "embed")),
        )
        # No position embedding: the causal toy tasks need none.
        x = nn.with_logical_constraint(table(tokens), ("batch", "length", "embed"))
        for i in range(self.layers):
            x = Block(self.embed, self.heads, self.mlp, self.dropout, name=f"block{i}")(x, deterministic)
        return _dense(self.embed, self.vocab, ("embed", "vocab"), "head")(x)


def mlp_loss(model):
    def loss_fn(params, batch, rng):
        pred = model.apply({"params": params}, batch["x"])
        loss = jnp.mean((pred.astype(jnp.float32) - batch["y"]) ** 2)
        return loss, {}

    return loss_fn


def lm_loss(model, train=True):
    def loss_fn(params, batch, rng=None):
        tokens = batch["tokens"]
        logits = model.apply(
            {"params": params},
            tokens[:, :-1],
            deterministic=not train,
            rngs={"dropout": rng} if train and rng is not None else None,
        )
        ce = optax.softmax_cross_entropy_with_integer_labels(logits.astype(jnp.float32), tokens[:, 1:])
        acc = jnp.mean(jnp.argmax(logits, -1) == tokens[:, 1:])
        return jnp.mean(ce), {"accuracy": acc}

    return loss_fn


def random_tokens(n, length, vocab, seed=0):
    """Learnable toy sequences: each row counts up from a random start, modulo vocab."""
    rng = np.random.default_rng(seed)
    start = rng.integers(0, vocab, size=(n, 1))
    return {"tokens": ((start + np.arange(length)) % vocab).astype(np.int32)}


def random_regression(n, features, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, features)).astype(np.float32)
    w = rng.normal(size=(features, features)).astype(np.float32) / np.sqrt(features)
    return {"x": x, "y": np.tanh(x @ w).astype(np.float32)}


def run_toy_training(
    out_dir,
    max_steps=12,
    mesh_shape=(4, 2, 1),
    ckpt_every=4,
    log_every=1,
    dropout=0.1,
    step_delay=0.0,
    async_checkpoints=True,
):
    """Train ToyTransformer on counting sequences through the full stack (used by the resume
    test, and runnable as `python -m train_kit.toy OUT_DIR [MAX_STEPS] [STEP_DELAY]`)."""
    import time

    from train_kit import data, fit, mesh, optim, sharding, step
    from train_kit.config import MeshConfig, OptimConfig, TrainConfig

    model = ToyTransformer(vocab=16, embed=16, heads=4, mlp=32, dropout=dropout)
    tokens = random_tokens(64, 9, 16, seed=0)
    ocfg = OptimConfig(
        lr=1e-2,
        clip_norm=1.0,
        warmup_steps=2,
        warmup_offset=1,
        decay="linear",
        decay_steps=20,
        final_lr_fraction=0.1,
    )
    tx, schedule = optim.make_optimizer(ocfg)
    m = mesh.make_mesh(MeshConfig(*mesh_shape))
    state, shardings = sharding.create_train_state(
        lambda rng: model.init(rng, tokens["tokens"][:2, :-1])["params"], tx, m, seed=0
    )
    train_step = step.make_train_step(lm_loss(model), tx, shardings, mesh.batch_sharding(m))
    cfg = TrainConfig(
        max_steps=max_steps,
        ckpt_every=ckpt_every,
        log_every=log_every,
        out_dir=str(out_dir),
        async_checkpoints=async_checkpoints,
    )
    hooks = [lambda *_: time.sleep(step_delay)] if step_delay else []
    return fit.fit(
        state,
        train_step,
        data.ArrayIterator(tokens, 8, seed=0),
        cfg,
        mesh=m,
        lr_fn=lambda s: optim.learning_rate(schedule, s, ocfg),
        hooks=hooks,
    )


@dataclasses.dataclass(frozen=True)
class ToyDataConfig:
    examples: int = 64
    length: int = 9
    vocab: int = 16
    batch_size: int = 8


@dataclasses.dataclass(frozen=True)
class ToyConfig:
    data: ToyDataConfig = ToyDataConfig()
    embed: int = 16
    dropout: float = 0.1
    optim: OptimConfig = OptimConfig(
        lr=1e-2,
        clip_norm=1.0,
        warmup_steps=2,
        warmup_offset=1,
        decay="linear",
        decay_steps=20,
        final_lr_fraction=0.1,
    )
    train: TrainConfig = TrainConfig(
        max_steps=12, eval_every=4, keep_best_metric="eval_loss", log_every=1, async_checkpoints=False
    )
    mesh: MeshConfig = MeshConfig()


class ToyTask(Task):
    """Counting sequences through the one driver (tests and the multi-host check)."""

    system = "toy"

    def setup(self, cfg):
        d = cfg.data
        return cfg, random_tokens(d.examples, d.length, d.vocab, seed=cfg.train.seed)

    def model(self, cfg):
        return ToyTransformer(
            vocab=cfg.data.vocab, embed=cfg.embed, heads=4, mlp=2 * cfg.embed, dropout=cfg.dropout
        )

    def example_batch(self, cfg, data, rows):
        return {"tokens": data["tokens"][:rows]}

    def init_params(self, model, batch, rng):
        return model.init(rng, batch["tokens"][:, :-1])["params"]

    def loss_fn(self, model, cfg):
        return lm_loss(model)

    def eval_fn(self, model, cfg):
        return lm_loss(model, train=False)

    def pipelines(self, cfg, data, rows, process_index, process_count):
        from train_kit.data import ArrayIterator

        size = cfg.data.batch_size

        def eval_data():
            return ArrayIterator(
                data,
                size,
                shuffle=False,
                num_epochs=1,
                process_index=process_index,
                process_count=process_count,
            )

        return (
            ArrayIterator(
                data, size, seed=cfg.train.seed, process_index=process_index, process_count=process_count
            ),
            eval_data,
        )


if __name__ == "__main__":
    import sys

    args = sys.argv[1:]
    result = run_toy_training(
        args[0],
        max_steps=int(args[1]) if len(args) > 1 else 12,
        step_delay=float(args[2]) if len(args) > 2 else 0.0,
    )
    print(f"{result.status} at step {result.step}")

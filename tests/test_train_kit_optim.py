"""Learning-rate schedules at hand-computed steps, gradient accumulation, bf16 compute."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from train_kit import mesh as tk_mesh
from train_kit import optim, sharding, step, toy
from train_kit.config import ConfigError, MeshConfig, OptimConfig

MMT = OptimConfig(
    lr=5e-4,
    warmup_steps=5000,
    warmup_offset=1,
    decay="linear",
    decay_steps=100000,
    final_lr_fraction=0.1,
    clip_norm=1.0,
)


@pytest.mark.parametrize(
    "s, multiplier",
    [
        (0, 1 / 5000),
        (1, 2 / 5000),
        (4998, 4999 / 5000),
        (4999, 1.0),
        (5000, 1.0),
        (52500, 1 - 0.9 * 47500 / 95000),
        (99999, 1 - 0.9 * 94999 / 95000),
        (100000, 0.1),
        (150000, 0.1),
        (200000, 0.1),
    ],
)
def test_mmt_schedule(s, multiplier):
    _, schedule = optim.make_optimizer(MMT)
    assert float(schedule(s)) == pytest.approx(5e-4 * multiplier, rel=1e-5)


def test_warmup_cosine_and_constant_schedules():
    cos = optim.lr_schedule(
        OptimConfig(lr=1.0, warmup_steps=10, decay="cosine", decay_steps=110, final_lr_fraction=0.2)
    )
    assert float(cos(0)) == 0.0  # plain warm-up starts at 0
    assert float(cos(5)) == pytest.approx(0.5)
    assert float(cos(10)) == pytest.approx(1.0)
    assert float(cos(60)) == pytest.approx(0.2 + 0.8 * 0.5)  # half-way down the cosine
    assert float(cos(110)) == pytest.approx(0.2)
    assert float(cos(1000)) == pytest.approx(0.2)
    const = optim.lr_schedule(OptimConfig(lr=3e-4, warmup_steps=4, decay="constant"))
    assert [float(const(s)) for s in (0, 2, 4, 99)] == pytest.approx([0, 1.5e-4, 3e-4, 3e-4])
    # The schedule seen by MultiSteps advances once per update.
    acc = OptimConfig(lr=1.0, warmup_steps=10, grad_accum_steps=4)
    assert float(optim.learning_rate(optim.lr_schedule(acc), 9, acc)) == pytest.approx(0.2)


def test_optim_config_rejects_bad_values():
    with pytest.raises(ConfigError, match="optim.decay='step'"):
        OptimConfig(decay="step")
    with pytest.raises(ConfigError, match="optim.name"):
        OptimConfig(name="sgd")
    with pytest.raises(ConfigError, match="decay_steps"):
        optim.make_optimizer(OptimConfig(warmup_steps=10, decay="linear", decay_steps=5))


def _setup(cfg, mesh_shape=(4, 2, 1)):
    model = toy.ToyMLP(features=8, hidden=16)
    data = toy.random_regression(16, 8, seed=2)
    tx, _ = optim.make_optimizer(cfg)
    mesh = tk_mesh.make_mesh(MeshConfig(*mesh_shape))
    state, sh = sharding.create_train_state(lambda r: model.init(r, data["x"])["params"], tx, mesh, seed=4)
    train = step.make_train_step(
        toy.mlp_loss(model), tx, sh, tk_mesh.batch_sharding(mesh), compute_dtype=optim.compute_dtype(cfg)
    )
    return train, state, data, mesh


def test_gradient_accumulation_equals_big_batch_step():
    base = dict(name="adamw", lr=1e-2, weight_decay=0.1, clip_norm=0.5)
    big, state, data, mesh = _setup(OptimConfig(**base))
    small, state2, _, _ = _setup(OptimConfig(**base, grad_accum_steps=2))
    for _ in range(2):  # two updates: the second one checks the accumulator was reset
        state, _ = big(state, tk_mesh.global_batch(data, mesh))
        for half in (slice(0, 8), slice(8, 16)):
            state2, _ = small(state2, tk_mesh.global_batch({k: v[half] for k, v in data.items()}, mesh))
    assert int(state2.step) == 4 and int(state.step) == 2
    jax.tree.map(
        lambda a, b: np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-6),
        state.params,
        state2.params,
    )


def test_mixed_precision_keeps_f32_masters():
    f32, s32, data, mesh = _setup(OptimConfig(lr=1e-2))
    bf16, s16, _, _ = _setup(OptimConfig(lr=1e-2, mixed_precision=True))
    batch = tk_mesh.global_batch(data, mesh)
    s32, m32 = f32(s32, batch)
    s16, m16 = bf16(s16, batch)
    assert all(x.dtype == jnp.float32 for x in jax.tree.leaves(s16.params))
    assert float(m16["loss"]) == pytest.approx(float(m32["loss"]), rel=2e-2)
    assert float(m16["loss"]) != float(m32["loss"])  # it really computed in bf16
    cast = optim.cast_floating({"a": jnp.ones(2), "i": jnp.ones(2, jnp.int32)}, jnp.bfloat16)
    assert cast["a"].dtype == jnp.bfloat16 and cast["i"].dtype == jnp.int32

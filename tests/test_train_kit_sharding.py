"""Data parallel, FSDP and tensor parallel give the single-device result; shardings follow the rules."""

import jax
import numpy as np
import pytest
from jax.sharding import PartitionSpec as P

from train_kit import mesh as tk_mesh
from train_kit import optim, sharding, step, toy
from train_kit.config import ConfigError, MeshConfig, OptimConfig

MODEL = toy.ToyTransformer(vocab=16, embed=16, heads=4, mlp=32)
DATA = toy.random_tokens(8, 9, 16, seed=3)


def _train(mesh_cfg, devices=None, steps=3):
    tx, _ = optim.make_optimizer(OptimConfig(lr=1e-2, clip_norm=1.0))
    mesh = tk_mesh.make_mesh(mesh_cfg, devices)
    state, shardings = sharding.create_train_state(
        lambda rng: MODEL.init(rng, DATA["tokens"][:, :-1])["params"], tx, mesh, seed=1
    )
    train_step = step.make_train_step(toy.lm_loss(MODEL), tx, shardings, tk_mesh.batch_sharding(mesh))
    losses = []
    for _ in range(steps):
        state, metrics = train_step(state, tk_mesh.global_batch(DATA, mesh))
        losses.append(float(metrics["loss"]))
    return losses, state


@pytest.fixture(scope="module")
def reference():
    return _train(MeshConfig(1, 1, 1), devices=jax.devices()[:1])


@pytest.mark.parametrize("shape", [(8, 1, 1), (4, 2, 1), (2, 1, 4)])
def test_sharded_training_matches_one_device(reference, shape):
    ref_losses, ref_state = reference
    losses, state = _train(MeshConfig(*shape))
    np.testing.assert_allclose(losses, ref_losses, rtol=2e-5)
    assert losses[-1] < losses[0]  # it did train
    jax.tree.map(
        lambda a, b: np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-4, atol=1e-5),
        state.params,
        ref_state.params,
    )
    # Parameter and Adam-moment shardings follow DEFAULT_RULES on the (data, fsdp, tensor) mesh.
    p = state.params
    assert p["block0"]["up"]["kernel"].sharding.spec == P("fsdp", "tensor")
    assert p["block0"]["down"]["kernel"].sharding.spec == P("tensor", "fsdp")
    assert p["block0"]["q"]["kernel"].sharding.spec == P("fsdp", "tensor", None)
    assert p["block0"]["out"]["kernel"].sharding.spec == P("tensor", None, "fsdp")
    assert p["embed"]["embedding"].sharding.spec == P("tensor", "fsdp")
    assert p["block0"]["ln_attn"]["scale"].sharding.spec == P(None)
    mu = state.opt_state[1][0].mu
    assert mu["block0"]["up"]["kernel"].sharding.spec == P("fsdp", "tensor")
    # The shards really are split: a (16, 32) kernel on fsdp x tensor.
    data, fsdp, tensor = shape
    assert p["block0"]["up"]["kernel"].addressable_shards[0].data.shape == (16 // fsdp, 32 // tensor)


def test_rules_drop_axes_that_do_not_divide():
    mesh = tk_mesh.make_mesh(MeshConfig(2, 1, 4))
    odd = toy.ToyTransformer(vocab=13, embed=16, heads=4, mlp=32)
    tx, _ = optim.make_optimizer(OptimConfig())
    state, _ = sharding.create_train_state(lambda r: odd.init(r, DATA["tokens"][:, :4])["params"], tx, mesh)
    assert state.params["head"]["kernel"].sharding.spec == P("fsdp", None)  # 13 % 4 != 0
    assert state.params["block0"]["up"]["kernel"].sharding.spec == P("fsdp", "tensor")


def test_mesh_sizes_and_global_batch():
    assert tk_mesh.make_mesh(MeshConfig(-1, 2, 1)).shape == {"data": 4, "fsdp": 2, "tensor": 1}
    assert tk_mesh.make_mesh(MeshConfig(2, -1, 2)).shape == {"data": 2, "fsdp": 2, "tensor": 2}
    with pytest.raises(ConfigError, match="have 8"):
        tk_mesh.make_mesh(MeshConfig(3, 1, 1))
    with pytest.raises(ConfigError, match="at most one -1"):
        MeshConfig(-1, -1, 1)
    mesh = tk_mesh.make_mesh(MeshConfig(4, 2, 1))
    batch = tk_mesh.global_batch({"x": np.arange(32.0).reshape(8, 4)}, mesh)
    assert batch["x"].sharding.spec == P(("data", "fsdp"), None)
    assert batch["x"].addressable_shards[0].data.shape == (1, 4)
    np.testing.assert_array_equal(np.asarray(batch["x"]), np.arange(32.0).reshape(8, 4))

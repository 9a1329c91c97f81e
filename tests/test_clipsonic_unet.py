"""The mel U-Net and the diffusion loss trained through train_kit: a (4, 2) mesh gives the
single-device result."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from clipsonic_jax.diffusion import DiffusionConfig, make_loss
from clipsonic_jax.unet import UNet, UNetConfig, init_params
from music_codecs.errors import UserError
from train_kit import mesh as tk_mesh
from train_kit import optim, sharding, step
from train_kit.config import MeshConfig, OptimConfig

CFG = UNetConfig(
    channels=8, channel_mults=(1, 2), res_blocks=1, attention_levels=(1,), heads=2, groups=4, cond_dim=8
)
NET = UNet(CFG)
RNG = np.random.default_rng(0)
BATCH = {
    "mel": RNG.uniform(-1, 1, (8, 8, 16)).astype(np.float32),
    "cond": RNG.normal(size=(8, 8)).astype(np.float32),
}


def apply_fn(params, x, t, cond, keep):
    return NET.apply({"params": params}, x, t, cond, keep)


fwd = jax.jit(apply_fn)


def init(rng):
    return init_params(NET, rng, BATCH["mel"].shape[1:])


def test_unet_shapes_and_condition_dropout():
    # Zero-initialised output convs make the first output 0; perturb every leaf to see the paths.
    @jax.jit
    def perturbed(rng):
        params = sharding.unbox(init(rng))
        leaves, tree = jax.tree.flatten(params)
        keys = jax.random.split(rng, len(leaves))
        return tree.unflatten([p + 0.05 * jax.random.normal(k, p.shape) for p, k in zip(leaves, keys)])

    params = perturbed(jax.random.key(0))
    x, t = jnp.asarray(BATCH["mel"][:2]), jnp.array([3, 900])
    c = jnp.asarray(BATCH["cond"][:2])
    out = fwd(params, x, t, c, jnp.array([True, True]))
    assert out.shape == (2, 8, 16) and bool(jnp.all(jnp.isfinite(out)))
    # keep=False ignores the condition (null embedding); keep=True depends on it.
    dropped = fwd(params, x, t, c, jnp.array([False, False]))
    dropped2 = fwd(params, x, t, -c, jnp.array([False, False]))
    np.testing.assert_allclose(dropped, dropped2, atol=1e-6)
    assert float(jnp.abs(out - fwd(params, x, t, -c, jnp.array([True, True]))).max()) > 1e-4
    # Each output row depends only on its own input row (no batch mixing).
    out_b = fwd(params, x.at[1].set(0.0), t, c, jnp.array([True, True]))
    np.testing.assert_allclose(out[0], out_b[0], atol=1e-6)
    with pytest.raises(UserError):
        fwd(params, jnp.zeros((1, 7, 16)), t[:1], c[:1], jnp.array([True]))


def _train(mesh_cfg, devices=None, steps=3, prediction="eps"):
    tx, _ = optim.make_optimizer(OptimConfig(lr=2e-3, clip_norm=1.0))
    mesh = tk_mesh.make_mesh(mesh_cfg, devices)
    state, shardings = sharding.create_train_state(init, tx, mesh, seed=1)
    loss = make_loss(apply_fn, DiffusionConfig(timesteps=100, prediction=prediction))
    train_step = step.make_train_step(loss, tx, shardings, tk_mesh.batch_sharding(mesh))
    losses = []
    for _ in range(steps):
        state, metrics = train_step(state, tk_mesh.global_batch(BATCH, mesh))
        losses.append(float(metrics["loss"]))
    return losses, state


def test_sharded_diffusion_step_matches_one_device():
    ref_losses, ref_state = _train(MeshConfig(1, 1, 1), devices=jax.devices()[:1])
    losses, state = _train(MeshConfig(4, 2, 1))
    np.testing.assert_allclose(losses, ref_losses, rtol=1e-4)
    jax.tree.map(
        lambda a, b: np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-3, atol=1e-5),
        state.params,
        ref_state.params,
    )
    k = state.params["up_0_0"]["conv1"]["kernel"]
    assert k.sharding.spec[:3] == (None, None, "fsdp")  # conv_in over fsdp
    assert k.addressable_shards[0].data.shape[2] == k.shape[2] // 2


def test_every_parameter_has_logical_axis_names():
    for cfg in (CFG, UNetConfig()):  # the test size and the default (paper-scale) U-Net
        boxed = jax.eval_shape(lambda k: init_params(UNet(cfg), k, (16, 32)), jax.random.key(0))
        assert sharding.unnamed_params(boxed) == []
        assert len(jax.tree.leaves(sharding.unbox(boxed))) > 20

"""MuseGAN training: the gradient penalty against finite differences; a tiny sharded run through
the driver whose step equals the single-device one, whose generated MIDI our reader reads back
with the right tracks, and which `evaluate` scores in the paper's layout."""

import dataclasses

import jax
import jax.numpy as jnp
import musegan_tiny
import numpy as np
import pytest

from musegan_jax.wgan import gradient_penalty


@pytest.mark.parametrize("tracks_scored", [1, 3])
def test_gradient_penalty_matches_finite_differences(tracks_scored):
    rng = np.random.default_rng(0)
    real, fake = rng.normal(size=(2, 3, 4, 3)), rng.normal(size=(2, 3, 4, 3))
    alpha = np.array([0.25, 0.7])
    w = rng.normal(size=(3, 4, 3))

    def critic(x):  # smooth, per example; with 3 scores, score k reads track k only
        if tracks_scored == 1:
            return jnp.tanh((x * w).sum((1, 2, 3)))[:, None] * 2.0
        return jnp.tanh((x * w).sum((1, 2))) * jnp.arange(1.0, 4.0)

    as32 = lambda a: jnp.asarray(a, jnp.float32)  # noqa: E731
    gp = float(gradient_penalty(critic, as32(real), as32(fake), as32(alpha)))
    expected, eps = 0.0, 1e-3
    for b in range(2):
        x = real[b] + alpha[b] * (fake[b] - real[b])
        steps = np.eye(x.size).reshape(x.size, *x.shape) * eps  # every coordinate, one batch
        up, down = np.asarray(critic(as32(x + steps))), np.asarray(critic(as32(x - steps)))
        grads = (up - down) / (2 * eps)  # [coordinates, scores]
        expected += sum((np.linalg.norm(grads[:, k]) - 1.0) ** 2 / 2 for k in range(tracks_scored))
    assert gp == pytest.approx(expected, rel=2e-3)


def test_tiny_sharded_run_matches_one_device_generates_and_evaluates(tmp_path, capsys):
    from jax.sharding import NamedSharding
    from jax.sharding import PartitionSpec as P

    from musegan_jax.cli import COMMANDS
    from musegan_jax.train import MuseGANTask, train
    from music_codecs.midi_read import read_midi
    from train_kit import mesh as tk_mesh
    from train_kit import optim, step
    from train_kit.cli import run_cli
    from train_kit.config import MeshConfig
    from train_kit.groups import create_group_state

    phrases = musegan_tiny.make_phrases(tmp_path / "phrases.npz")
    cfg = musegan_tiny.tiny_config(phrases, tmp_path / "run", kind="composer")
    # Adam's first step is lr * g / (|g| + eps): with a larger eps, float noise in a zero
    # gradient (a bias before BatchNorm) stays noise instead of becoming a full step
    cfg = dataclasses.replace(
        cfg,
        mesh=MeshConfig(data=4, fsdp=2),
        train=dataclasses.replace(cfg.train, max_steps=1),
        optim=dataclasses.replace(cfg.optim, eps=1e-3),
        critic_optim=dataclasses.replace(cfg.critic_optim, eps=1e-3),
    )
    result = train(cfg, progress=False)
    sharded = result.fit.state
    kernel = ("critic", "bar", "Conv_1", "kernel")
    assert sharded.params["critic"]["critic"]["bar"]["Conv_1"]["kernel"].sharding.spec[2] == "fsdp"
    moments = [
        leaf.sharding.spec
        for path, leaf in jax.tree_util.tree_flatten_with_path(sharded.opt_state["critic"])[0]
        if all(k in jax.tree_util.keystr(path) for k in kernel) and "mu" in jax.tree_util.keystr(path)
    ]
    assert [s[2] for s in moments] == ["fsdp"]
    assert {"critic_gp", "critic_wasserstein", "generator_loss", "sample_EB_P", "sample_TD_B-G"} <= set(
        result.metrics
    )

    # the same step on one device, from the same initial state and batch
    task = MuseGANTask()
    cfg1, data = task.setup(cfg)
    model = task.model(cfg1)
    batch = next(task.pipelines(cfg1, data, 8, 0, 1)[0])
    example = task.example_batch(cfg1, data, 8)
    txs = {n: optim.make_optimizer(o)[0] for n, o in task.optimizers(cfg1).items()}
    one = tk_mesh.make_mesh(MeshConfig(data=1), devices=jax.devices()[:1])
    state, sh = create_group_state(lambda r: task.init_params(model, example, r), txs, one)
    one_step = step.make_group_train_step(task.updates(model, cfg1), txs, sh, NamedSharding(one, P()))
    state, metrics = one_step(state, tk_mesh.global_batch(batch, one))
    close = lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-4, atol=2e-6)  # noqa: E731
    jax.tree.map(close, jax.device_get(state.params), jax.device_get(sharded.params))
    jax.tree.map(close, jax.device_get(state.extra), jax.device_get(sharded.extra))
    logged = result.fit.last_train
    for key in ("critic_loss", "critic_gp", "generator_loss"):
        assert float(metrics[key]) == pytest.approx(logged[key], rel=1e-4, abs=1e-5)

    # generation: 2 chained phrases per piece, MIDI with one named track per family
    n = str(cfg.gan.eval_samples)  # the sampler compiled for the run's own samples is reused
    argv = ["generate", "--checkpoint", str(tmp_path / "run"), "--out", str(tmp_path / "gen")]
    assert run_cli("musegan-jax", "", COMMANDS, argv + ["--num", n, "--phrases", "2", "--no-wav"]) == 0
    table = read_midi(tmp_path / "gen" / "sample_000.mid", allow_empty=True)
    assert table.track_names == ("Drums", "Piano", "Guitar", "Bass", "Strings")
    assert (tmp_path / "gen" / "sample_000.png").stat().st_size > 1000
    for index, name in enumerate(table.track_names):
        notes = table.select(table.track == index)
        if len(notes):
            assert bool(notes.is_drum.all()) == (name == "Drums")
    assert 0 < len(table) and table.end <= 2 * 4 * cfg1.data.steps + 1  # two chained 4-bar phrases
    argv = ["evaluate", "--checkpoint", str(tmp_path / "run"), "--data", phrases, "--samples", n]
    assert run_cli("musegan-jax", "", COMMANDS, argv) == 0
    out = capsys.readouterr().out
    assert "| paper: scratch hybrid |" in out and "| data: phrases.npz |" in out and "composer (run" in out
    # bad input: one line, exit 2
    assert run_cli("musegan-jax", "", COMMANDS, ["generate", "--checkpoint", str(tmp_path / "nope")]) == 2
    argv = ["generate", "--checkpoint", str(tmp_path / "run"), "--input", phrases, "--no-wav"]
    assert run_cli("musegan-jax", "", COMMANDS, argv) == 2  # not a conditional run
    assert "not a conditional run" in capsys.readouterr().err

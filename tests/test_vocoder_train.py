"""Vocoder GAN training through the driver: the 8-device data-parallel step equals the
one-device step, bad audio files are skipped and named, and the run folder serves as a vocoder."""

import dataclasses

import jax
import numpy as np
import pytest

from clipsonic_jax.vocoder_config import VocoderDataConfig, VocoderTrainConfig
from model_kit.discriminators import DiscConfig
from model_kit.vocoder_config import VocoderConfig
from music_codecs.mel import MelConfig
from train_kit.config import MeshConfig, OptimConfig, TrainConfig

MEL = MelConfig(n_fft=256, win_length=256, hop_length=64, n_mels=8, clip_samples=1024)


def _audio_folder(path, n=6):
    import soundfile as sf

    path.mkdir()
    t = np.arange(3000) / 16000
    for i in range(n):
        sf.write(path / f"tone_{i}.wav", 0.4 * np.sin(2 * np.pi * (200 + 50 * i) * t), 16000)
    (path / "broken.wav").write_bytes(b"not a wave file")
    return str(path)


def _cfg(data, out, mesh):
    return VocoderTrainConfig(
        data=VocoderDataConfig(path=data, batch_size=8, segment_frames=8, eval_every_nth=3, eval_segments=8),
        mel=MEL,
        vocoder=VocoderConfig(
            kind="hifigan",
            n_mels=8,
            upsample_rates=(8, 8),
            upsample_kernel_sizes=(16, 16),
            upsample_initial_channel=8,
            resblock="2",
            resblock_kernel_sizes=(3,),
            resblock_dilation_sizes=((1,),),
        ),
        disc=DiscConfig(
            periods=(2,),
            mpd_channels=(2, 4, 4, 4, 4),
            scales=1,
            msd_channels=(2, 4, 4, 4, 4, 4, 4),
            msd_groups=(1, 2, 2, 2, 2, 2, 1),
        ),
        # a large Adam eps keeps float noise in a near-zero gradient from becoming a full step
        optim=OptimConfig(lr=1e-3, eps=1e-3),
        optim_d=OptimConfig(lr=1e-3, eps=1e-3),
        train=TrainConfig(max_steps=1, log_every=1, out_dir=out, async_checkpoints=False),
        mesh=mesh,
    )


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    from clipsonic_jax.vocoder_train import train

    root = tmp_path_factory.mktemp("voc")
    data = _audio_folder(root / "audio")
    cfg = _cfg(data, str(root / "run"), MeshConfig(data=8))
    return cfg, train(cfg, progress=False), root


def test_sharded_gan_step_equals_one_device(trained):
    from jax.sharding import NamedSharding
    from jax.sharding import PartitionSpec as P

    from clipsonic_jax.vocoder_train import VocoderTask
    from train_kit import mesh as tk_mesh
    from train_kit import optim, step
    from train_kit.groups import create_group_state

    cfg, result, _ = trained
    task = VocoderTask()
    cfg1, data = task.setup(dataclasses.replace(cfg, mesh=MeshConfig(data=1)))
    assert len(data.skipped) == 1 and data.skipped[0][0].endswith("broken.wav")
    model = task.model(cfg1)
    batch = next(task.pipelines(cfg1, data, 8, 0, 1)[0])
    example = task.example_batch(cfg1, data, 8)
    txs = {n: optim.make_optimizer(o)[0] for n, o in task.optimizers(cfg1).items()}
    one = tk_mesh.make_mesh(MeshConfig(data=1), devices=jax.devices()[:1])
    state, sh = create_group_state(lambda r: task.init_params(model, example, r), txs, one)
    one_step = step.make_group_train_step(
        task.updates(model, cfg1), txs, sh, NamedSharding(one, P()), main="generator"
    )
    state, metrics = one_step(state, tk_mesh.global_batch(batch, one))
    sharded = result.fit.state
    assert sharded.params["generator"]["conv_pre"]["kernel"].sharding.mesh.shape["data"] == 8
    close = lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)  # noqa: E731
    jax.tree.map(close, jax.device_get(state.params), jax.device_get(sharded.params))
    logged = result.fit.last_train
    for key in ("discriminator_loss", "generator_loss", "generator_mel_l1", "generator_fm"):
        assert float(metrics[key]) == pytest.approx(logged[key], rel=1e-4)
    assert logged["loss"] == logged["generator_loss"]


def test_run_folder_is_a_vocoder(trained):
    from clipsonic_jax.vocoder_use import load_vocoder
    from music_codecs.errors import UserError

    cfg, result, root = trained
    voc = load_vocoder(result.run_dir, MEL)
    assert "hifigan" in voc.name
    wave = voc(np.full((8, 10), -3.0, np.float32))
    assert wave.shape == (640,) and np.all(np.abs(wave) <= 1.0)
    with pytest.raises(UserError, match="n_mels"):
        load_vocoder(result.run_dir, dataclasses.replace(MEL, n_mels=16))
    gl = load_vocoder("griffin-lim", MEL)
    assert gl.name.startswith("griffin-lim") and gl(np.full((8, 10), -3.0, np.float32)).shape == (640,)
    with pytest.raises(UserError, match="no such"):
        load_vocoder(str(root / "nothing"), MEL)

"""End to end through the command line: synthetic data and a tiny random CLIP, a few train steps
(train --data/--clip/--out), then image- and text-queried generation (WAV + PNG) from the run
folder; a tiny prior (train-prior) and text through it (CLIPSonic-PD); evaluation of IQ, ZS and
PD and the modality gap with the prior."""

import json
import re

import numpy as np
import pytest
import soundfile as sf

from clipsonic_jax import cli
from clipsonic_jax.modality_gap import modality_gap


def test_modality_gap_means():
    text = np.array([[1.0, 0.0], [0.0, 1.0]])
    images = np.array([[2.0, 0.0], [0.6, 0.8], [0.0, 3.0]])
    r = modality_gap(text, images, [0, 0, 1])
    assert r["matched"] == pytest.approx((1.0 + 0.6 + 1.0) / 3)
    assert r["mismatched"] == pytest.approx((0.0 + 0.8 + 0.0) / 3)


def test_condition_standardisation():
    from clipsonic_jax.data import cond_transform

    e = np.random.default_rng(0).normal(size=(50, 8)) * 0.1 + 3.0
    mean, scale = cond_transform(e, True)
    z = (e - mean) / scale
    np.testing.assert_allclose(z.mean(0), 0.0, atol=1e-5)
    assert abs(z.std() - 1.0) < 1e-5
    mean, scale = cond_transform(e, False)
    assert scale == 1.0 and not mean.any()


def test_train_generate_evaluate(tmp_path, capsys):
    clip, videos, run, out = (str(tmp_path / n) for n in ("clip", "videos", "run", "out"))
    assert cli.COMMANDS["train"] == "clipsonic_jax.commands.train"
    with pytest.raises(SystemExit) as e:
        cli.main(["make-tiny-clip", "--out", clip])
    assert e.value.code == 0
    with pytest.raises(SystemExit) as e:
        cli.main(["make-synthetic", "--out", videos, "--clips", "8", "--seconds", "1.5"])
    assert e.value.code == 0
    overrides = [
        "train.max_steps=2",
        "train.eval_every=2",
        "data.batch_size=8",
        "data.eval_every_nth=0",
        "unet.channels=8",
        "unet.groups=4",
        "unet.channel_mults=(1,)",
        "unet.attention_levels=()",
        "sample.steps=3",
        "sample.griffin_lim_iters=2",
        "optim.warmup_steps=1",
        "optim.decay_steps=2",
    ]
    with pytest.raises(SystemExit) as e:
        cli.main(
            [
                "train",
                "--config",
                "configs/clipsonic/tiny.py",
                "--data",
                videos,
                "--clip",
                clip,
                "--out",
                run,
                *overrides,
            ]
        )
    assert e.value.code == 0
    meta = json.load(open(f"{run}/run.json"))
    assert meta["system"] == "clipsonic" and meta["config"]["data"]["path"] == videos
    assert meta["config"]["unet"]["cond_dim"] == 64 and meta["mel_stats"]["high"] > meta["mel_stats"]["low"]
    assert len(meta["cond_mean"]) == 64 and meta["cond_scale"] > 0
    frame = tmp_path / "frame.png"
    from PIL import Image

    from clipsonic_jax import video

    Image.fromarray(video.read_frames(f"{videos}/clip_00000.mp4", [0.5])[0]).save(frame)
    with pytest.raises(SystemExit) as e:
        cli.main(
            ["generate", "--checkpoint", run, "--image", str(frame), f"{videos}/clip_00001.mp4", "--out", out]
        )
    assert e.value.code == 0
    with pytest.raises(SystemExit) as e:
        cli.main(["generate", "--checkpoint", run, "--text", "a red circle", "--out", out])
    assert e.value.code == 0
    from clipsonic_jax.data import centre_time
    from clipsonic_jax.generate import read_image

    clip1 = f"{videos}/clip_00001.mp4"  # a video query is its centre frame, the one training used
    np.testing.assert_array_equal(
        read_image(clip1), video.read_frames(clip1, [centre_time(video.probe(clip1).duration)])[0]
    )
    for stem in ("frame", "a_red_circle", "clip_00001"):
        wave, sr = sf.read(f"{out}/{stem}.wav")
        assert sr == 16000 and wave.shape == (16384,) and np.all(np.isfinite(wave))
        assert (tmp_path / "out" / f"{stem}.png").stat().st_size > 1000
    # CLIPSonic-PD: a prior trained on the same clips' captions, then text -> prior -> audio.
    prior = str(tmp_path / "prior")
    with pytest.raises(SystemExit) as e:
        cli.main(
            ["train-prior", "--config", "configs/clipsonic/prior_tiny.py", "--data", videos, "--clip", clip]
            + ["--out", prior, "train.max_steps=3", "train.eval_every=0", "data.batch_size=8"]
            + ["data.eval_every_nth=0", "diffusion.sample_timesteps=4", "optim.warmup_steps=1"]
        )
    assert e.value.code == 0
    info = json.load(open(f"{prior}/run.json"))
    assert info["system"] == "clipsonic-prior" and info["config"]["net"]["dim"] == 64
    assert info["config"]["net"]["max_text_len"] == 16 and info["pairs"]["train"] == 8
    with pytest.raises(SystemExit) as e:
        cli.main(
            ["generate", "--checkpoint", run, "--prior", prior, "--text", "a red shape", "a blue shape"]
            + ["--prior-guidance", "2", "--out", str(tmp_path / "pd")]
        )
    assert e.value.code == 0
    for stem in ("a_red_shape", "a_blue_shape"):
        wave, sr = sf.read(tmp_path / "pd" / f"{stem}.wav")
        assert sr == 16000 and wave.shape == (16384,) and np.all(np.isfinite(wave))
    capsys.readouterr()
    with pytest.raises(SystemExit) as e:
        cli.main(["evaluate", "--checkpoint", run, "--prior", prior, "--data", videos])
    assert e.value.code == 0
    table = capsys.readouterr().out
    assert "real audio 1.000" in table and re.search(r"chance +0\.167", table)
    for row in ("IQ (image query)", "ZS (CLIP text)", "PD (text via prior)"):
        assert re.search(re.escape(row) + r" +[01]\.\d{3}", table), table
    with pytest.raises(SystemExit) as e:
        cli.main(["modality-gap", "--prior", prior, "--data", videos])
    assert e.value.code == 0
    table = capsys.readouterr().out
    assert re.search(r"ZS  sim\(q_text, q_img\) +-?[01]\.\d{3}", table)
    assert re.search(r"PD  sim\(prior\(q_text\), q_img\) +-?[01]\.\d{3}", table)
    with pytest.raises(SystemExit) as e:
        cli.main(["generate", "--checkpoint", run, "--prior", prior, "--image", str(frame)])
    assert e.value.code == 2
    assert "--prior maps text queries" in capsys.readouterr().err
    # A missing checkpoint is one line on stderr and exit 2.
    with pytest.raises(SystemExit) as e:
        cli.main(["generate", "--checkpoint", str(tmp_path / "nope"), "--text", "x"])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "no such run folder" in err and err.count("\n") == 1


def test_paired_and_image_gaps():
    from clipsonic_jax.modality_gap import image_gap, paired_gap

    images = np.array([[1.0, 0.0], [0.6, 0.8], [0.0, 1.0]])
    r = paired_gap(np.array([[1.0, 0.0], [0.0, 2.0], [0.0, 1.0]]), images, ["a", "a", "b"])
    assert r["matched"] == pytest.approx((1.0 + 0.8 + 1.0) / 3)
    # pairs of different labels: (0, 2), (1, 2), (2, 0), (2, 1)
    assert r["mismatched"] == pytest.approx((0.0 + 1.0 + 0.0 + 0.8) / 4)
    r = image_gap(images, ["a", "a", "b"])
    assert r["matched"] == pytest.approx(0.6) and r["mismatched"] == pytest.approx((0.0 + 0.8) / 2)

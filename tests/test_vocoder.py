"""The Flax HiFi-GAN / BigVGAN generator against PyTorch on tiny random weights, the importers'
refusals, and the JAX mel front end against the NumPy one and BigVGAN's."""

import json

import numpy as np
import pytest

from model_kit import vocoder_load
from model_kit.mel_frontend import log_mel
from model_kit.vocoder import Generator, kaiser_sinc
from model_kit.vocoder_config import VocoderConfig
from music_codecs.errors import UserError
from music_codecs.mel import MelConfig, wave_to_mel

MEL = MelConfig(n_fft=256, win_length=256, hop_length=64, n_mels=12, clip_samples=2048)
TINY_BIGVGAN = dict(
    num_mels=8,
    upsample_rates=[2, 2],
    upsample_kernel_sizes=[4, 4],
    upsample_initial_channel=16,
    resblock="1",
    resblock_kernel_sizes=[3, 5],
    resblock_dilation_sizes=[[1, 3], [1, 3]],
    activation="snakebeta",
    snake_logscale=True,
    use_bias_at_final=False,
    use_tanh_at_final=False,
)


def _randomize(torch, module, scale=0.15):
    torch.manual_seed(0)
    with torch.no_grad():
        for name, p in module.named_parameters():
            if name.endswith("weight_g"):
                p.uniform_(0.2, 0.6)
            else:
                p.normal_(0.0, scale)


def _state(module):
    return {k: v.numpy() for k, v in module.state_dict().items()}


def _mel(rows=2, n_mels=8, frames=12):
    return np.random.default_rng(0).normal(-2.0, 1.0, size=(rows, n_mels, frames)).astype(np.float32)


def test_mel_front_end_matches_numpy_and_bigvgan():
    wave = np.random.default_rng(1).uniform(-0.5, 0.5, (2, 2048)).astype(np.float32)
    ours = np.asarray(log_mel(wave, MEL))
    assert ours.shape == (2, 2048 // 64, 12)
    np.testing.assert_allclose(ours[1], wave_to_mel(wave[1], MEL).T, atol=1e-5)
    torch = pytest.importorskip("torch", reason="BigVGAN's own mel needs torch")
    meldataset = pytest.importorskip("bigvgan.meldataset", reason="needs the bigvgan package (parity extra)")
    theirs = meldataset.mel_spectrogram(torch.from_numpy(wave), 256, 12, 16000, 64, 256, 0, None).numpy()
    np.testing.assert_allclose(ours, theirs.transpose(0, 2, 1), atol=1e-5)


def test_kaiser_filter_is_a_symmetric_lowpass():
    f = kaiser_sinc()
    assert f.shape == (12,) and f.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(f, f[::-1], atol=1e-7)
    response = np.abs(np.fft.rfft(f, 256))
    assert response[0] == pytest.approx(1.0) and response[-1] < 0.05  # passes DC, stops Nyquist


@pytest.mark.parametrize(
    "variant",
    [
        {},  # v2-style: SnakeBeta, AMPBlock1, no final bias, clamp
        dict(activation="snake", resblock="2", use_bias_at_final=True, use_tanh_at_final=True),
    ],
)
def test_bigvgan_matches_the_bigvgan_package(variant):
    torch = pytest.importorskip("torch", reason="parity needs torch (the torch extra)")
    bigvgan = pytest.importorskip("bigvgan.bigvgan", reason="parity needs the bigvgan package")
    from bigvgan.env import AttrDict

    h = {**TINY_BIGVGAN, **variant}
    net = bigvgan.BigVGAN(AttrDict(dict(h))).eval()
    _randomize(torch, net)
    mel = _mel()
    with torch.no_grad():
        want = net(torch.from_numpy(mel)).numpy()[:, 0]
    cfg = VocoderConfig.from_bigvgan_json(h)
    params = vocoder_load.params_from_state_dict(_state(net), cfg)
    got = np.asarray(Generator(cfg).apply({"params": params}, mel.transpose(0, 2, 1)))
    assert got.shape == want.shape == (2, 12 * 4)
    assert np.abs(want).max() < 0.99  # not saturated: the comparison means something
    np.testing.assert_allclose(got, want, atol=1e-4)


class _TorchHiFiGAN:
    """A tiny HiFi-GAN generator in PyTorch, written from the paper's description (ResBlock1,
    leaky ReLU 0.1, last activation at slope 0.01, tanh), with HiFi-GAN's state-dict names."""

    def __init__(self, torch, h):
        nn, wn = torch.nn, torch.nn.utils.weight_norm
        self.torch, self.h = torch, h
        ch = h["upsample_initial_channel"]
        m = nn.Module()
        m.conv_pre = wn(nn.Conv1d(h["num_mels"], ch, 7, 1, padding=3))
        m.ups, m.resblocks = nn.ModuleList(), nn.ModuleList()
        for i, (u, k) in enumerate(zip(h["upsample_rates"], h["upsample_kernel_sizes"])):
            m.ups.append(wn(nn.ConvTranspose1d(ch // 2**i, ch // 2 ** (i + 1), k, u, padding=(k - u) // 2)))
            c = ch // 2 ** (i + 1)
            for k2, ds in zip(h["resblock_kernel_sizes"], h["resblock_dilation_sizes"]):
                b = nn.Module()
                b.convs1 = nn.ModuleList(
                    [wn(nn.Conv1d(c, c, k2, 1, padding=d * (k2 - 1) // 2, dilation=d)) for d in ds]
                )
                b.convs2 = nn.ModuleList([wn(nn.Conv1d(c, c, k2, 1, padding=(k2 - 1) // 2)) for _ in ds])
                m.resblocks.append(b)
        m.conv_post = wn(nn.Conv1d(c, 1, 7, 1, padding=3))
        self.m = m

    def __call__(self, x):
        F, m, n = self.torch.nn.functional, self.m, len(self.h["resblock_kernel_sizes"])
        x = m.conv_pre(x)
        for i, up in enumerate(m.ups):
            x = up(F.leaky_relu(x, 0.1))
            xs = 0
            for b in m.resblocks[i * n : (i + 1) * n]:
                y = x
                for c1, c2 in zip(b.convs1, b.convs2):
                    y = c2(F.leaky_relu(c1(F.leaky_relu(y, 0.1)), 0.1)) + y
                xs = xs + y
            x = xs / n
        return self.torch.tanh(m.conv_post(F.leaky_relu(x)))


def test_hifigan_g_file_matches_torch_and_loads_from_a_folder(tmp_path):
    torch = pytest.importorskip("torch", reason="parity needs torch (the torch extra)")
    bigvgan_only = ("activation", "snake_logscale", "use_bias_at_final", "use_tanh_at_final")
    h = {k: v for k, v in TINY_BIGVGAN.items() if k not in bigvgan_only}  # the HiFi-GAN fields
    ref = _TorchHiFiGAN(torch, h)
    _randomize(torch, ref.m, 0.2)
    mel = _mel()
    with torch.no_grad():
        want = ref(torch.from_numpy(mel)).numpy()[:, 0]
    (tmp_path / "config.json").write_text(json.dumps(h))
    torch.save({"generator": ref.m.state_dict()}, tmp_path / "g_00000100")
    cfg, params, _ = vocoder_load.load_checkpoint_dir(tmp_path)
    assert cfg.kind == "hifigan" and cfg.hop == 4
    got = np.asarray(Generator(cfg).apply({"params": params}, mel.transpose(0, 2, 1)))
    assert 0.05 < np.abs(want).max() < 0.99
    np.testing.assert_allclose(got, want, atol=1e-4)


def test_new_style_weight_norm_folds_the_same():
    rng = np.random.default_rng(2)
    g, v = rng.uniform(0.5, 1, (4, 1, 1)), rng.normal(size=(4, 3, 5))
    old = vocoder_load.fold_weight_norm({"a.weight_g": g, "a.weight_v": v, "a.bias": np.zeros(4)})
    new = vocoder_load.fold_weight_norm(
        {"a.parametrizations.weight.original0": g, "a.parametrizations.weight.original1": v}
    )
    np.testing.assert_allclose(old["a.weight"], new["a.weight"])
    np.testing.assert_allclose(np.linalg.norm(old["a.weight"].reshape(4, -1), axis=1), g.ravel(), rtol=1e-6)


def test_importer_names_every_mismatched_key(tmp_path):
    cfg = VocoderConfig.from_bigvgan_json(TINY_BIGVGAN)
    sd = {k: np.zeros(s, np.float32) for k, s in vocoder_load.expected_shapes(cfg).items()}
    del sd["resblocks.1.convs2.0.bias"]
    sd["conv_pre.weight"] = np.zeros((16, 9, 7), np.float32)
    sd["ups.0.1.weight"] = np.zeros(3, np.float32)
    sd["activation_post.upsample.filter"] = np.zeros((1, 1, 12), np.float32)  # a buffer: ignored
    with pytest.raises(UserError) as err:
        vocoder_load.params_from_state_dict(sd, cfg)
    msg = str(err.value)
    assert "missing resblocks.1.convs2.0.bias" in msg and "unexpected ups.0.1.weight" in msg
    assert "conv_pre.weight (16, 9, 7) != (16, 8, 7)" in msg and "filter" not in msg and "\n" not in msg
    with pytest.raises(UserError, match="no config.json"):
        vocoder_load.load_checkpoint_dir(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"num_mels": 8}))
    with pytest.raises(UserError, match="neither bigvgan_generator.pt nor"):
        vocoder_load.load_checkpoint_dir(tmp_path)

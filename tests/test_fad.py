"""FAD parts: the Fréchet distance on known Gaussians, VGGish against torchvggish, the stand-in
embedding and the on-disk reference statistics."""

import numpy as np
import pytest
from scipy import linalg

from model_kit import embedders, embedding_stats, frechet, vggish
from music_codecs.errors import UserError


def _spd(rng, d):
    a = rng.standard_normal((d, d))
    return a @ a.T + 0.1 * np.eye(d)


def test_frechet_one_dimensional_closed_form():
    # N(m1, s1^2) vs N(m2, s2^2): (m1 - m2)^2 + (s1 - s2)^2
    d = frechet.frechet_distance([1.0], [[4.0]], [-2.0], [[9.0]])
    assert d == pytest.approx(9.0 + 1.0)


def test_frechet_diagonal_and_identical():
    a, b = np.array([1.0, 2.0, 0.5]), np.array([3.0, 0.5, 0.5])
    mu1, mu2 = np.array([0.0, 1.0, 2.0]), np.array([1.0, 1.0, 0.0])
    want = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2)
    assert frechet.frechet_distance(mu1, np.diag(a), mu2, np.diag(b)) == pytest.approx(want)
    s = _spd(np.random.default_rng(0), 6)
    assert frechet.frechet_distance(mu1[:1].repeat(6), s, mu1[:1].repeat(6), s) == pytest.approx(0, abs=1e-8)


def test_frechet_general_against_symmetric_form():
    # tr((S1 S2)^1/2) = tr((S1^1/2 S2 S1^1/2)^1/2), the latter symmetric: computed by eigh.
    rng = np.random.default_rng(1)
    s1, s2 = _spd(rng, 8), _spd(rng, 8)
    mu1, mu2 = rng.standard_normal(8), rng.standard_normal(8)
    r = linalg.sqrtm(s1).real
    ev = np.linalg.eigvalsh(r @ s2 @ r)
    want = np.sum((mu1 - mu2) ** 2) + np.trace(s1) + np.trace(s2) - 2 * np.sum(np.sqrt(np.clip(ev, 0, None)))
    assert frechet.frechet_distance(mu1, s1, mu2, s2) == pytest.approx(want, rel=1e-8)


def test_frechet_singular_covariances_and_refusals():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((4, 10))  # 4 samples in 10-D: rank-3 covariances
    d = frechet.fad(x, x + 0.5)
    assert np.isfinite(d) and d == pytest.approx(10 * 0.25, rel=1e-3)
    with pytest.raises(UserError, match="at least 2"):
        frechet.gaussian_stats(np.zeros((1, 3)))
    with pytest.raises(UserError, match="shapes differ"):
        frechet.frechet_distance(np.zeros(2), np.eye(2), np.zeros(3), np.eye(3))


def test_fad_samples_grow_with_the_shift():
    rng = np.random.default_rng(3)
    a, b = rng.standard_normal((400, 4)), rng.standard_normal((400, 4))
    assert frechet.fad(a, b) < 0.1 < frechet.fad(a, b + 1.0)


def _tone(freq, seconds=2.0, sr=16000):
    t = np.arange(int(seconds * sr)) / sr
    return (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def test_standin_is_named_deterministic_and_sees_pitch():
    e = embedders.get_embedder(None)
    assert e.name == embedders.STANDIN_NAME and "not a perceptual model" in e.name
    a = e.embed([_tone(220.0)])
    assert a.shape == (2, 128)
    np.testing.assert_array_equal(a, embedders.standin().embed([_tone(220.0)]))
    low = e.embed([_tone(220.0, 4.0), _tone(230.0, 4.0)])
    high = e.embed([_tone(1000.0, 4.0), _tone(1010.0, 4.0)])
    assert frechet.fad(low[:4], low[4:]) < frechet.fad(low, high)


def test_reference_stats_cached_and_keyed(tmp_path):
    import soundfile as sf

    files = []
    for i, f in enumerate((220.0, 330.0, 440.0)):
        files.append(str(tmp_path / f"{i}.wav"))
        sf.write(files[-1], _tone(f), 16000)
    calls = []

    def load(p):
        calls.append(p)
        return sf.read(p)[0]

    e = embedders.standin()
    mu, sigma, n = embedding_stats.reference_stats(e, files, tmp_path / "cache", load)
    assert n == 6 and mu.shape == (128,) and sigma.shape == (128, 128)
    again = embedding_stats.reference_stats(e, files, tmp_path / "cache", load)
    assert len(calls) == 3  # the second call read the cache
    np.testing.assert_array_equal(again[1], sigma)
    assert embedding_stats.stats_key(e, files[:2]) != embedding_stats.stats_key(e, files)
    sf.write(files[0], _tone(500.0), 16000)  # a changed file is a new key
    embedding_stats.reference_stats(e, files, tmp_path / "cache", load)
    assert len(calls) == 6


def test_vggish_importer_names_every_bad_key():
    sd = {k: np.zeros(s, np.float32) for k, s in vggish.expected_shapes().items()}
    del sd["features.3.bias"]
    sd["embeddings.4.weight"] = np.zeros((64, 4096), np.float32)
    sd["features.99.weight"] = np.zeros(1, np.float32)
    with pytest.raises(UserError) as err:
        vggish.params_from_state_dict(sd)
    msg = str(err.value)
    assert "missing features.3.bias" in msg and "unexpected features.99.weight" in msg
    assert "embeddings.4.weight (64, 4096) != (128, 4096)" in msg and "\n" not in msg


def test_vggish_matches_torchvggish_on_random_weights():
    torch = pytest.importorskip("torch", reason="VGGish parity needs torch (the torch extra)")
    tv = pytest.importorskip("torchvggish", reason="VGGish parity needs torchvggish (the parity extra)")
    from torchvggish import vggish_input
    from torchvggish.torchvggish import VGG, make_layers

    wave = np.random.default_rng(4).uniform(-0.5, 0.5, 16000 * 2 + 3000)
    ours = vggish.waveform_to_examples(wave)
    theirs = vggish_input.waveform_to_examples(wave, 16000, return_tensor=False)
    np.testing.assert_allclose(ours, theirs, atol=1e-5)
    assert tv is not None
    torch.manual_seed(0)
    net = VGG(make_layers(), False).eval()
    sd = {k: v.numpy() for k, v in net.state_dict().items()}
    with torch.no_grad():
        want = net(torch.from_numpy(ours[:, None])).numpy()
    got = np.asarray(vggish.VGGish().apply({"params": vggish.params_from_state_dict(sd)}, ours))
    np.testing.assert_allclose(got, want, atol=1e-4, rtol=1e-4)


def test_fad_report_names_the_models_and_has_a_floor(tmp_path):
    import soundfile as sf

    from clipsonic_jax.audio_quality import fad_report
    from clipsonic_jax.data import Cache
    from clipsonic_jax.vocoder_use import Vocoder
    from music_codecs.mel import MelConfig, wave_to_mel

    mel = MelConfig(n_mels=32, clip_samples=16384)
    names, mels = [], []
    for i in range(6):
        w = _tone(220.0 * (1 + i % 3), 1.5)
        names.append(f"c{i}.wav")
        sf.write(tmp_path / names[-1], w, 16000)
        mels.append(wave_to_mel(w[:16384], mel))
    cache = Cache(np.stack(mels), np.zeros((6, 4)), names, [""] * 6, np.full(6, 0.5), [])
    ref, floor = np.array([0, 1, 2]), np.array([3, 4, 5])
    # a stand-in vocoder (Griffin-Lim's numba warm-up alone takes seconds): a sine at the dominant band
    voc = Vocoder(
        "test sine vocoder",
        lambda ms: np.stack([0.3 * np.sin(np.arange(16384) * 0.02 * (1 + np.argmax(m.mean(1)))) for m in ms]),
    )
    rep = fad_report(
        {"iq": cache.mels[ref][::-1]},
        (str(tmp_path), cache, ref),
        (str(tmp_path), cache, floor),
        embedders.standin(),
        voc,
        mel,
        str(tmp_path / "cache"),
    )
    assert rep["embedding"] == embedders.STANDIN_NAME and rep["vocoder"] == "test sine vocoder"
    assert rep["reference_embeddings"] == 3
    # the floor set holds the same three tones: identical clip windows, FAD 0; IQ is real mels vocoded
    assert rep["fad"]["real_vs_real"] == pytest.approx(0.0, abs=1e-6)
    assert rep["fad"]["iq"] == pytest.approx(rep["fad"]["real_mels_through_vocoder"], rel=1e-6)
    assert rep["fad"]["iq"] > 0
    assert len(list((tmp_path / "cache").glob("fad-*.npz"))) == 2

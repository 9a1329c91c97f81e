"""VGGish (Hershey et al. 2017), the audio embedding of the original FAD, in Flax, loading the
torchvggish state dict (`features.{0,3,6,8,11,13}`, `embeddings.{0,2,4}`).

Front end (NumPy, the published VGGish input): 16 kHz mono; 25 ms periodic-Hann frames every
10 ms, |rfft| with 512 points; 64 mel bands over 125-7500 Hz on the HTK mel scale (triangles in
mel, the DC bin zeroed); log(mel + 0.01); non-overlapping 0.96 s examples of 96 frames.
Network: conv3x3 (64) pool, (128) pool, (256, 256) pool, (512, 512) pool, flattened in
(time, band, channel) order, then 4096 -> 4096 -> 128 with ReLUs (torchvggish keeps the last).

    examples = waveform_to_examples(wave, sample_rate)      # [N, 96, 64] float32
    params = load_vggish("vggish-10086976.pth")              # or .safetensors/.npz, same keys
    emb = VGGish().apply({"params": params}, examples)      # [N, 128]
"""

from __future__ import annotations

import functools

import flax.linen as nn
import jax.numpy as jnp
import numpy as np

from model_kit.state_dict import check_keys, read_state_dict

SAMPLE_RATE = 16000
WINDOW, HOP, FFT = 400, 160, 512
MEL_BANDS, MEL_LOW, MEL_HIGH = 64, 125.0, 7500.0
EXAMPLE_FRAMES = 96
LOG_OFFSET = 0.01
LAYOUT = (64, "M", 128, "M", 256, 256, "M", 512, 512, "M")


def _hz_to_mel(hz):
    return 1127.0 * np.log(1.0 + np.asarray(hz, np.float64) / 700.0)


@functools.lru_cache(maxsize=2)
def mel_matrix(bands=MEL_BANDS, bins=FFT // 2 + 1, sample_rate=SAMPLE_RATE, low=MEL_LOW, high=MEL_HIGH):
    """[bins, bands]: triangular filters, linear in mel, on the spectrogram bins."""
    bin_mel = _hz_to_mel(np.linspace(0.0, sample_rate / 2.0, bins))
    edges = np.linspace(_hz_to_mel(low), _hz_to_mel(high), bands + 2)
    lower, centre, upper = edges[:-2], edges[1:-1], edges[2:]
    rise = (bin_mel[:, None] - lower) / (centre - lower)
    fall = (upper - bin_mel[:, None]) / (upper - centre)
    w = np.maximum(0.0, np.minimum(rise, fall))
    w[0, :] = 0.0  # the DC bin carries no band
    return w


def _frames(x, size, hop):
    n = 1 + (len(x) - size) // hop
    if n < 1:
        return np.zeros((0, size), x.dtype)
    idx = np.arange(size)[None] + hop * np.arange(n)[:, None]
    return x[idx]


def log_mel(wave):
    """[frames, 64] VGGish log-mel of a 16 kHz mono wave."""
    wave = np.asarray(wave, np.float64)
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(WINDOW) / WINDOW)  # periodic Hann
    spec = np.abs(np.fft.rfft(_frames(wave, WINDOW, HOP) * window, FFT))
    return np.log(spec @ mel_matrix() + LOG_OFFSET)


def waveform_to_examples(wave, sample_rate=SAMPLE_RATE):
    """[N, 96, 64] float32 examples (N = whole 0.96 s windows; stereo is averaged)."""
    wave = np.asarray(wave, np.float64)
    if wave.ndim == 2:
        wave = wave.mean(axis=1)
    if sample_rate != SAMPLE_RATE:
        import librosa

        wave = librosa.resample(wave, orig_sr=sample_rate, target_sr=SAMPLE_RATE)
    return _frames(log_mel(wave), EXAMPLE_FRAMES, EXAMPLE_FRAMES).astype(np.float32)


class VGGish(nn.Module):
    """[N, 96, 64] log-mel examples -> [N, 128] embeddings. `layout`/`hidden` shrink it for tests."""

    layout: tuple = LAYOUT
    hidden: int = 4096
    embedding: int = 128
    final_relu: bool = True  # torchvggish's layout ends with a ReLU

    @nn.compact
    def __call__(self, x):
        x = x[..., None]
        i = 0  # the torch Sequential index: a conv and its ReLU take two, a pool one
        for v in self.layout:
            if v == "M":
                x = nn.max_pool(x, (2, 2), (2, 2))
                i += 1
            else:
                x = nn.relu(nn.Conv(v, (3, 3), padding=((1, 1), (1, 1)), name=f"features_{i}")(x))
                i += 2
        x = x.reshape(x.shape[0], -1)  # NHWC flattening = torchvggish's transposed flatten
        x = nn.relu(nn.Dense(self.hidden, name="embeddings_0")(x))
        x = nn.relu(nn.Dense(self.hidden, name="embeddings_2")(x))
        x = nn.Dense(self.embedding, name="embeddings_4")(x)
        return nn.relu(x) if self.final_relu else x


def _torch_names(model: VGGish):
    """{our module name: torch key prefix} in order."""
    names, i = {}, 0
    for v in model.layout:
        if v == "M":
            i += 1
        else:
            names[f"features_{i}"] = f"features.{i}"
            i += 2
    for j in (0, 2, 4):
        names[f"embeddings_{j}"] = f"embeddings.{j}"
    return names


def expected_shapes(model: VGGish = VGGish()):
    import jax

    shapes = jax.eval_shape(lambda: model.init(jax.random.key(0), jnp.zeros((1, EXAMPLE_FRAMES, MEL_BANDS))))[
        "params"
    ]
    out = {}
    for ours, theirs in _torch_names(model).items():
        k = shapes[ours]["kernel"].shape
        out[f"{theirs}.weight"] = (k[3], k[2], k[0], k[1]) if len(k) == 4 else (k[1], k[0])
        out[f"{theirs}.bias"] = shapes[ours]["bias"].shape
    return out


def params_from_state_dict(sd, model: VGGish = VGGish()):
    check_keys(
        expected_shapes(model), sd, "VGGish (torchvggish layout)", ignore=("_pca_matrix", "_pca_means")
    )
    params = {}
    for ours, theirs in _torch_names(model).items():
        w = np.asarray(sd[f"{theirs}.weight"], np.float32)
        kernel = w.transpose(2, 3, 1, 0) if w.ndim == 4 else w.T  # [out,in,kh,kw] -> [kh,kw,in,out]
        params[ours] = {"kernel": jnp.asarray(kernel), "bias": jnp.asarray(sd[f"{theirs}.bias"], jnp.float32)}
    return params


def load_vggish(path, model: VGGish = VGGish()):
    return params_from_state_dict(read_state_dict(path), model)

"""Audio embedding models for FAD, each with a name that goes into every report.

    emb = get_embedder(None)              # the stand-in (no weights needed), named STANDIN_NAME
    emb = get_embedder("vggish.pth")      # VGGish with the user's torchvggish weights
    e = emb.embed([wave, ...], sample_rate)   # [N, D]: one row per 0.96 s window, all clips

The stand-in is NOT a perceptual model: fixed random projections (seed 0) of 0.96 s VGGish-style
log-mel windows (time pooled by 4, so 24 x 64 values -> 128). Its FAD is only comparable with
other stand-in FADs; it exists so the built-in checks and the synthetic demo run offline.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib

import numpy as np

from model_kit import vggish

STANDIN_NAME = "standin-randproj-logmel (random projection of log-mels, not a perceptual model)"


@dataclasses.dataclass
class Embedder:
    name: str
    fingerprint: str  # what identifies the weights (cache key)
    fn: object  # examples [N, 96, 64] -> [N, D]

    def embed(self, waves, sample_rate=vggish.SAMPLE_RATE, batch=64):
        ex = [vggish.waveform_to_examples(w, sample_rate) for w in waves]
        ex = np.concatenate([e for e in ex if len(e)] or [np.zeros((0, 96, 64), np.float32)])
        if not len(ex):
            return np.zeros((0, 0), np.float32)
        return np.concatenate([np.asarray(self.fn(ex[i : i + batch])) for i in range(0, len(ex), batch)])


@functools.lru_cache(maxsize=1)
def _projection():
    rng = np.random.default_rng(0)
    return (rng.standard_normal((24 * 64, 128)) / np.sqrt(24 * 64)).astype(np.float32)


def _standin(examples):
    pooled = np.asarray(examples, np.float32).reshape(len(examples), 24, 4, 64).mean(axis=2)
    return pooled.reshape(len(examples), -1) @ _projection()


def standin() -> Embedder:
    return Embedder(STANDIN_NAME, "standin-v1", _standin)


def vggish_embedder(path) -> Embedder:
    import jax

    params = vggish.load_vggish(path)
    model = vggish.VGGish()
    apply = jax.jit(lambda p, x: model.apply({"params": p}, x))
    with open(path, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()[:16]
    return Embedder(f"vggish ({path})", f"vggish-{digest}", lambda x: apply(params, x))


def get_embedder(vggish_path=None) -> Embedder:
    return vggish_embedder(vggish_path) if vggish_path else standin()

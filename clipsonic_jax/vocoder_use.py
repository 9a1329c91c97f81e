"""Mel -> waveform for CLIPSonic's outputs: Griffin-Lim, a vocoder we trained (a run folder of
`clipsonic-jax train-vocoder`), or a released HiFi-GAN / BigVGAN checkpoint folder.

    voc = load_vocoder("griffin-lim" | RUN_DIR | CHECKPOINT_DIR, mel_cfg)
    wave = voc(logmel)            # logmel [n_mels, frames] (natural log) -> [frames * hop]
    voc.name                      # what made the audio, for every report

The mel settings must be the vocoder's: a mismatch in bands, hop or sample rate is refused.
"""

from __future__ import annotations

import dataclasses
import functools
import os

import numpy as np

from music_codecs.errors import UserError
from music_codecs.mel import MelConfig, mel_to_wave

GRIFFIN_LIM = "griffin-lim"


@dataclasses.dataclass
class Vocoder:
    name: str
    fn: object  # logmels [B, n_mels, frames] -> waves [B, frames * hop]

    def __call__(self, logmel):
        return self.many(np.asarray(logmel)[None])[0]

    def many(self, logmels):
        return np.asarray(self.fn(np.asarray(logmels, np.float32)))


def _check(what, mel: MelConfig, n_mels, hop, sample_rate=None):
    bad = []
    if n_mels != mel.n_mels:
        bad.append(f"n_mels {n_mels} != {mel.n_mels}")
    if hop != mel.hop_length:
        bad.append(f"hop {hop} != {mel.hop_length}")
    if sample_rate is not None and int(sample_rate) != mel.sample_rate:
        bad.append(f"sample rate {sample_rate} != {mel.sample_rate}")
    if bad:
        raise UserError(f"{what}: the vocoder does not fit the model's mels ({'; '.join(bad)})")


def _neural(name, cfg, params):
    import jax
    import jax.numpy as jnp

    from model_kit.vocoder import Generator

    gen = Generator(cfg)
    apply = jax.jit(lambda p, m: gen.apply({"params": p}, jnp.swapaxes(m, 1, 2)))
    return Vocoder(name, functools.partial(apply, params))


def load_vocoder(spec, mel: MelConfig, griffin_lim_iters=32) -> Vocoder:
    if spec in (None, "", GRIFFIN_LIM):
        return Vocoder(
            f"griffin-lim ({griffin_lim_iters} iterations)",
            lambda mels: np.stack([mel_to_wave(m, mel, n_iter=griffin_lim_iters) for m in mels]),
        )
    if not os.path.isdir(spec):
        raise UserError(
            f"--vocoder {spec}: no such folder (give griffin-lim, a train-vocoder run or a checkpoint folder)"
        )
    if os.path.isfile(os.path.join(spec, "run.json")):
        from clipsonic_jax.vocoder_config import VocoderTrainConfig
        from clipsonic_jax.vocoder_train import SYSTEM
        from train_kit.config import from_dict
        from train_kit.run import load_run

        run = load_run(spec, system=SYSTEM)
        cfg = from_dict(VocoderTrainConfig, run.config)
        _check(spec, mel, cfg.vocoder.n_mels, cfg.mel.hop_length, cfg.mel.sample_rate)
        if dataclasses.replace(cfg.mel, clip_samples=mel.clip_samples) != mel:
            raise UserError(
                f"{spec}: the vocoder was trained on other mel settings ({cfg.mel}) than the model's ({mel})"
            )
        return _neural(f"{cfg.vocoder.kind} (trained, {spec}, step {run.step})", cfg.vocoder, run.params)
    from model_kit.vocoder_load import load_checkpoint_dir

    cfg, params, h = load_checkpoint_dir(spec)
    _check(spec, mel, cfg.n_mels, cfg.hop, h.get("sampling_rate"))
    return _neural(f"{cfg.kind} (released checkpoint {spec})", cfg, params)

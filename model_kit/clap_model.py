"""LAION-CLAP (Wu et al. 2023), non-fusion: HTSAT audio and RoBERTa text towers, each followed by
laion's two-layer ReLU MLP projection into the joint space, L2-normalised; the CLAP score of a
clip and a text is the cosine of their embeddings.

Audio as laion-clap prepares it at inference (`get_audio_embedding_from_filelist`): mono,
resampled to 48 kHz (librosa), quantised to int16 and back (clip to [-1, 1], x 32767, truncate),
then made 10 s long: a shorter clip is repeated whole as many times as fits and zero-padded
("repeatpad"); a longer one is cut to its first 10 s (laion takes a random 10 s crop there; a
fixed one keeps scores reproducible).

    model = CLAP(ClapConfig(HTSATConfig.tiny(), RobertaConfig.base(), joint=512))
    a = model.apply({"params": p}, log_mel(prepared), method=CLAP.encode_audio)   # [B, joint]
    t = model.apply({"params": p}, ids, mask, method=CLAP.encode_text)            # [B, joint]
    clap_score(a, t)                                                             # [B] cosines
"""

from __future__ import annotations

import dataclasses

import flax.linen as nn
import jax
import numpy as np

from model_kit.clap_htsat import CLIP_SAMPLES, HTSAT, SAMPLE_RATE, HTSATConfig, log_mel
from model_kit.clap_text import Roberta, RobertaConfig
from model_kit.clip_model import normalize
from music_codecs.errors import UserError


@dataclasses.dataclass(frozen=True)
class ClapConfig:
    audio: HTSATConfig = HTSATConfig()
    text: RobertaConfig = RobertaConfig()
    joint: int = 512


class CLAP(nn.Module):
    cfg: ClapConfig

    def setup(self):
        j = self.cfg.joint
        self.audio_branch = HTSAT(self.cfg.audio)
        self.text_branch = Roberta(self.cfg.text)
        # laion's nn.Sequential(Linear, ReLU, Linear): indices 0 and 2
        self.audio_projection_0, self.audio_projection_2 = nn.Dense(j), nn.Dense(j)
        self.text_projection_0, self.text_projection_2 = nn.Dense(j), nn.Dense(j)

    def encode_audio(self, mel):
        x = self.audio_projection_2(nn.relu(self.audio_projection_0(self.audio_branch(mel))))
        return normalize(x)

    def encode_text(self, ids, mask):
        x = self.text_projection_2(nn.relu(self.text_projection_0(self.text_branch(ids, mask))))
        return normalize(x)

    def __call__(self, mel, ids, mask):
        return self.encode_audio(mel), self.encode_text(ids, mask)


def quantise(wave):
    """laion's int16 round trip: clip to [-1, 1], x 32767 truncated to int16, / 32767."""
    return ((np.clip(wave, -1.0, 1.0) * 32767.0).astype(np.int16) / 32767.0).astype(np.float32)


def repeat_pad(wave, length=CLIP_SAMPLES):
    """Repeat a short clip whole int(length / n) times, then zero-pad; a long one: its start."""
    n = len(wave)
    if n >= length:
        return wave[:length]
    return np.pad(np.tile(wave, length // n), (0, length - (length // n) * n))


def prepare_audio(wave, sample_rate):
    """One clip ([samples] or [samples, channels]) -> [480000] float32 at 48 kHz."""
    wave = np.asarray(wave, np.float32)
    if wave.ndim == 2:
        wave = wave.mean(axis=1)
    if not len(wave):
        raise UserError("CLAP: an empty clip has no embedding")
    if sample_rate != SAMPLE_RATE:
        import librosa

        wave = librosa.resample(wave, orig_sr=sample_rate, target_sr=SAMPLE_RATE)
    return repeat_pad(quantise(wave))


def clap_score(audio_emb, text_emb):
    """Row-wise cosine similarity of paired audio and text embeddings: [N]."""
    a, t = np.asarray(audio_emb, np.float64), np.asarray(text_emb, np.float64)
    a = a / np.maximum(np.linalg.norm(a, axis=-1, keepdims=True), 1e-12)
    t = t / np.maximum(np.linalg.norm(t, axis=-1, keepdims=True), 1e-12)
    return (a * t).sum(axis=-1)


@dataclasses.dataclass
class Clap:
    """A loaded CLAP with its tokenizer; `name` goes into every report."""

    name: str
    cfg: ClapConfig
    params: dict
    tokenizer: object

    def __post_init__(self):
        model = CLAP(self.cfg)
        self._audio = jax.jit(lambda p, m: model.apply({"params": p}, m, method=CLAP.encode_audio))
        self._text = jax.jit(lambda p, i, k: model.apply({"params": p}, i, k, method=CLAP.encode_text))

    def embed_audio(self, waves, sample_rate, batch=8):
        out = []
        for i in range(0, len(waves), batch):
            prepared = np.stack([prepare_audio(w, sample_rate) for w in waves[i : i + batch]])
            out.append(np.asarray(self._audio(self.params, log_mel(prepared, self.cfg.audio.mel_bins))))
        return np.concatenate(out) if out else np.zeros((0, self.cfg.joint), np.float32)

    def embed_text(self, texts, batch=64):
        out = []
        for i in range(0, len(texts), batch):
            ids, mask = self.tokenizer(list(texts[i : i + batch]))
            out.append(np.asarray(self._text(self.params, ids, mask)))
        return np.concatenate(out) if out else np.zeros((0, self.cfg.joint), np.float32)

    def score(self, waves, sample_rate, texts):
        """[N] CLAP scores of clip i against text i."""
        return clap_score(self.embed_audio(waves, sample_rate), self.embed_text(texts))

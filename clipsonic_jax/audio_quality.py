"""FAD of CLIPSonic's generated audio against real clips, with the embedding model named.

    report = fad_report(gen_mels_by_kind, real_ref, real_floor, embedder, vocoder, cache_dir)
        gen_mels_by_kind: {"iq": log-mels [N, n_mels, frames], ...}, made audio by `vocoder`;
        real_ref: (data_dir, cache, indices) of the reference clips (their statistics are cached
        on disk); real_floor: another (data_dir, cache, indices) of real clips: FAD(real, real),
        the floor a perfect model would reach at this sample size. Also the real mels of the
        reference through the vocoder: what the vocoder alone costs. `waves`, when a dict, gets
        each kind's vocoded audio (for the CLAP score, so it is made once).
    clap = clap_report(clap, waves, real_waves, texts, sample_rate)
        the mean CLAP score (cosine) of each kind's clip i against texts[i], and of the real clips.

The reference audio is each video's clip window (data.audio_window at the frame time), the audio
the model was trained to reproduce.
"""

from __future__ import annotations

import dataclasses
import json
import os

import numpy as np

from model_kit.embedding_stats import reference_stats
from model_kit.frechet import frechet_distance, gaussian_stats


def clip_wave(data_dir, cache, i, mel_cfg):
    from clipsonic_jax import data, video

    wave = video.read_audio(os.path.join(data_dir, cache.names[i]), mel_cfg.sample_rate)
    return data.audio_window(wave, float(cache.times[i]), mel_cfg)


def real_stats(embedder, data_dir, cache, idx, mel_cfg, cache_dir):
    files = [os.path.join(data_dir, cache.names[i]) for i in idx]
    by_file = {f: i for f, i in zip(files, idx)}
    return reference_stats(
        embedder,
        files,
        cache_dir,
        lambda f: clip_wave(data_dir, cache, by_file[f], mel_cfg),
        mel_cfg.sample_rate,
        extra=json.dumps(dataclasses.asdict(mel_cfg), sort_keys=True),
    )


def fad_report(gen_mels, real_ref, real_floor, embedder, vocoder, mel_cfg, cache_dir, batch=16, waves=None):
    mu, sigma, n_ref = real_stats(embedder, *real_ref, mel_cfg, cache_dir)
    out = {"embedding": embedder.name, "vocoder": vocoder.name, "reference_embeddings": n_ref, "fad": {}}

    def fad_of_mels(mels, kind=None):
        audio = np.concatenate([vocoder.many(mels[i : i + batch]) for i in range(0, len(mels), batch)])
        if kind and waves is not None:
            waves[kind] = audio
        return frechet_distance(*gaussian_stats(embedder.embed(list(audio), mel_cfg.sample_rate)), mu, sigma)

    for kind, mels in gen_mels.items():
        out["fad"][kind] = fad_of_mels(np.asarray(mels), kind)
    data_dir, cache, idx = real_ref
    out["fad"]["real_mels_through_vocoder"] = fad_of_mels(cache.mels[idx])
    if real_floor is not None:
        out["fad"]["real_vs_real"] = frechet_distance(
            *real_stats(embedder, *real_floor, mel_cfg, cache_dir)[:2], mu, sigma
        )
    return out


def clap_report(clap, waves, real_waves, texts, sample_rate):
    """{"model": name, "clap": {kind: mean score, ..., "real": mean score}, "n": clips}."""
    from model_kit.clap_model import clap_score

    text_emb = clap.embed_text(texts)
    out = {"model": clap.name, "n": len(texts), "clap": {}}
    for kind, audio in [*waves.items(), ("real", real_waves)]:
        out["clap"][kind] = float(np.mean(clap_score(clap.embed_audio(list(audio), sample_rate), text_emb)))
    return out

"""Sampling phrases from a trained generator, and writing them as MIDI, WAV and pictures.

    sampler = Sampler(models, params)           # params as a run exports them
    rolls = sampler.sample(n, seed=0, phrases=1, condition=None)   bool [n, phrases*bars, steps, 84, 5]

The generator runs with BatchNorm's running statistics and its tanh output is binarised at 0
(reference §1.3). Longer pieces chain phrases: the time-independent latents (shared, private)
stay fixed, the temporal latents are drawn anew for every phrase, so each 4-bar phrase keeps the
piece's voices while its bar-by-bar progression changes (the 3-D model has no temporal latent:
its phrases are independent draws). Accompaniment: `condition` is the given track, bool
[n, phrases*bars, steps, 84]; it is copied into the output.
"""

from __future__ import annotations

import numpy as np

from musegan_jax.config import TRACKS


def _run(models, variables, rng, phrase, n, condition):
    import jax

    from musegan_jax.wgan import sample_latents

    cfg = models.cfg
    base = sample_latents(rng, n, cfg)
    fresh = sample_latents(jax.random.fold_in(rng, phrase + 1), n, cfg)
    temporal = ("shared",) if cfg.arch == "3d" else ("temporal", "temporal_private")
    latents = {k: jax.numpy.where(phrase > 0, fresh[k], v) if k in temporal else v for k, v in base.items()}
    return models.generator.apply(variables, latents, False, condition) > 0


_compiled = None


def _sample_fn():
    """One jitted sampler for every Sampler: the models and the row count are static, so runs of
    one config share the compilation."""
    global _compiled
    if _compiled is None:
        import jax

        _compiled = jax.jit(_run, static_argnums=(0, 4))
    return _compiled


class Sampler:
    def __init__(self, models, params, chunk=64):
        self.models, self.chunk = models, chunk
        self.variables = {"params": params["generator"], "batch_stats": params["batch_stats"]}

    def sample(self, n, seed=0, phrases=1, condition=None):
        import jax

        cfg, bars = self.models.cfg, self.models.bars
        if cfg.conditional and condition is None:
            raise ValueError("a conditional model needs the given track (condition)")
        run = _sample_fn()
        out = []
        for start in range(0, n, self.chunk):
            rows = min(self.chunk, n - start)
            rng = jax.random.fold_in(jax.random.key(seed), start)
            pieces = []
            for j in range(phrases):
                cond = None
                if condition is not None:
                    part = np.asarray(condition[start : start + rows, j * bars : (j + 1) * bars], np.float32)
                    cond = part * 2 - 1
                pieces.append(np.asarray(run(self.models, self.variables, rng, j, rows, cond)))
            out.append(np.concatenate(pieces, axis=1))
        return np.concatenate(out)


def to_table(roll, beat_resolution, qpm=120.0):
    """One generated piece bool [bars, steps, 84, 5] -> a NoteTable with one named track per
    family (Drums on the drum channel, Piano 0, Guitar 25, Bass 33, Strings 48)."""
    from musegan_jax.encoding import decode

    return decode(roll, beat_resolution, qpm)


def write_outputs(roll, beat_resolution, stem, wav=True, png=True, qpm=120.0, renderer="auto"):
    """Write stem.mid (+ stem.wav, stem.png); returns {kind: path} (and the WAV renderer)."""
    from pathlib import Path

    from musegan_jax.plot import save_tracks_png
    from music_codecs.midi_write import write_midi

    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    table = to_table(roll, beat_resolution, qpm)
    out = {"midi": write_midi(table, stem.with_suffix(".mid"))}
    if wav and len(table):
        from music_codecs.render import render_wav

        out["renderer"] = render_wav(table, stem.with_suffix(".wav"), renderer=renderer)
        out["wav"] = str(stem.with_suffix(".wav"))
    if png:
        out["png"] = save_tracks_png(roll, beat_resolution, stem.with_suffix(".png"), title=stem.name)
    return out


def track_index(name):
    return TRACKS.index(name)


def condition_from_file(path, trained, phrases):
    """The given track for accompaniment: the pitched notes of a MIDI/MusicXML file as the run's
    condition track, float32 [1, phrases*bars, steps, 84]."""
    from musegan_jax import encoding
    from music_codecs.errors import UserError
    from music_codecs.read import read_music

    table = read_music(path)
    table = table.select(~table.is_drum)  # the pitched notes become the given track
    if not len(table):
        raise UserError(f"{path}: no pitched notes to accompany")
    cfg = trained.config
    k = TRACKS.index(cfg.model.condition_track)
    bars = cfg.data.bars * phrases
    steps = bars * cfg.data.steps
    roll = encoding.encode(table, cfg.data.beat_resolution, [k] * table.num_tracks, steps=steps)
    if not roll.any():
        raise UserError(f"{path}: no notes in C1..B7 within the first {bars} bars")
    return roll[:, :, k].reshape(1, bars, cfg.data.steps, -1).astype(np.float32)

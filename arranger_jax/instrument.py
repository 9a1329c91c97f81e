"""Automatic instrumentation (reference §11): downmix a piece, label every note, write one track per part.

Unlike the reference, every note is kept (it silently dropped all notes after the 2,000th).
"""

from __future__ import annotations

import numpy as np

from arranger_jax import data as data_mod
from arranger_jax import labels as label_rules
from music_codecs.errors import UserError
from music_codecs.note_table import NoteTable


def downmix(table: NoteTable, name="input"):
    """All non-drum notes at 24 steps per quarter, duplicates (time, pitch, duration) removed,
    sorted; returns (Piece with label 0, drum NoteTable kept aside at the same resolution)."""
    scale = data_mod.RESOLUTION / table.resolution
    melodic = table.select(~table.is_drum)
    if not len(melodic):
        raise UserError(f"{name}: no pitched (non-drum) notes to arrange")
    onset = np.round(melodic.onset * scale).astype(np.int64)
    end = np.round((melodic.onset + melodic.duration) * scale).astype(np.int64)
    notes = data_mod.clean_part(np.stack([onset, melodic.pitch, end - onset, melodic.velocity], 1))
    if not len(notes):
        raise UserError(f"{name}: every note is shorter than a 1/24 quarter")
    order = np.lexsort((notes[:, 3], notes[:, 2], notes[:, 1], notes[:, 0]))
    notes = notes[order]
    piece = data_mod.Piece(
        name, notes[:, 0], notes[:, 1], notes[:, 2], notes[:, 3], np.zeros(len(notes), np.int64)
    )
    drums = table.select(table.is_drum)
    drums = drums.replace(
        onset=np.round(drums.onset * scale),
        duration=np.maximum(np.round(drums.duration * scale), 1),
        resolution=data_mod.RESOLUTION,
    )
    return piece, drums


def model_batch(piece, num_parts):
    """A batch of one: every note of `piece` (no cap), with no part information (entry and
    pitch hints zero: at inference nothing is known about the parts)."""
    from arranger_jax import features as F

    inputs, _ = F.piece_inputs(piece, num_parts, max_len=None)
    inputs["entry_hint"] = np.zeros_like(inputs["entry_hint"])
    inputs["pitch_hint"] = np.zeros_like(inputs["pitch_hint"])
    return {k: v[None] for k, v in inputs.items()}


def label_parts(trained, piece):
    """Part 0..K-1 of every note of `piece` from a whole-sequence pass of a loaded model
    (arranger_jax.load.Trained); online models give what streaming would."""
    import jax

    logits = trained.model.apply(
        {"params": trained.params}, model_batch(piece, trained.config.model.num_parts)
    )
    return np.asarray(jax.device_get(logits))[0, :, 1:].argmax(-1)


def arranged_table(piece, parts, dataset, source: NoteTable | None = None, drums=None):
    """A NoteTable with all K part tracks (named and programmed as in reference §1.1), in order,
    possibly empty, plus the drum notes as a last track when given. Tempo and time signatures
    come from `source`, rescaled to 24 ticks per quarter."""
    names = label_rules.parts(dataset)
    programs = label_rules.PROGRAMS[dataset]
    parts = np.asarray(parts, np.int64)
    n = len(piece)
    fields = dict(
        onset=piece.time,
        duration=piece.duration,
        pitch=piece.pitch,
        velocity=piece.velocity,
        program=np.asarray(programs)[parts],
        is_drum=np.zeros(n, bool),
        track=parts,
    )
    track_names = tuple(names)
    if drums is not None and len(drums):
        fields = {
            k: np.concatenate(
                [
                    v,
                    {
                        "track": np.full(len(drums), len(names)),
                        "program": drums.program,
                        "is_drum": drums.is_drum,
                        "onset": drums.onset,
                        "duration": drums.duration,
                        "pitch": drums.pitch,
                        "velocity": drums.velocity,
                    }[k],
                ]
            )
            for k, v in fields.items()
        }
        track_names += ("Drums",)
    meta = {}
    if source is not None:
        scale = data_mod.RESOLUTION / source.resolution
        sig = source.time_signatures.copy()
        sig[:, 0] = np.round(sig[:, 0] * scale)
        meta = dict(
            tempo_tick=np.round(source.tempo_tick * scale), tempo_qpm=source.tempo_qpm, time_signatures=sig
        )
    return NoteTable(data_mod.RESOLUTION, track_names=track_names, **fields, **meta)

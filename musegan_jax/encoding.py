"""The paper's note encoding: note tables <-> binary piano-rolls of MuseGAN (reference §1.1).

    roll = encode(table, beat_resolution, families)   bool [steps, 84, 5]
    table = decode(roll, beat_resolution)              a NoteTable, one named track per family
    phrases = to_phrases(roll, beat_resolution, bars)  bool [N, bars, 4 * beat_resolution, 84, 5]

Encoding: times are re-gridded to `beat_resolution` steps per quarter (bars of 4 beats); pitches
outside C1..B7 (MIDI 24..107) are dropped; every non-drum note of d steps marks its first d - 1
steps (the rest step at its end keeps repeated notes apart), so notes under 2 steps vanish;
drums mark their onset step only; notes of one family are merged (logical or).

Decoding inverts it: a run of k active steps of a pitch is one note of k + 1 steps, a drum cell
a one-step hit. encode(decode(roll)) == roll for every roll, and decode(encode(table)) gives
the table's notes back whenever they can be encoded (on the grid, in range, non-drum notes of
at least 2 steps, same-pitch notes of a family not overlapping, one instrument per family).
"""

from __future__ import annotations

import numpy as np

from musegan_jax.config import LOWEST_PITCH, PITCHES, TRACKS
from musegan_jax.families import PROGRAMS
from music_codecs.note_table import NoteTable

NAMES = tuple(t.capitalize() for t in TRACKS)


def encode(table: NoteTable, beat_resolution: int, families, steps=None) -> np.ndarray:
    """bool [steps, 84, len(TRACKS)]; `families[i]` is the TRACKS index of table track i;
    `steps` (default: up to the last note) pads or cuts the time axis."""
    if table.resolution != beat_resolution:
        from music_codecs.quantize import adjust_resolution

        table = adjust_resolution(table, beat_resolution)
    fam = np.asarray(families, np.int64)[table.track] if len(table) else np.zeros(0, np.int64)
    pitch = table.pitch - LOWEST_PITCH
    keep = (pitch >= 0) & (pitch < PITCHES)
    drum = keep & (fam == TRACKS.index("drums"))
    tone = keep & ~drum & (table.duration >= 2)
    length = max(table.end, int(table.onset.max()) + 1 if len(table) else 0)
    counts = np.zeros((length + 1, PITCHES, len(TRACKS)), np.int32)
    np.add.at(counts, (table.onset[tone], pitch[tone], fam[tone]), 1)
    np.add.at(counts, (table.onset[tone] + table.duration[tone] - 1, pitch[tone], fam[tone]), -1)
    roll = np.cumsum(counts, axis=0)[:-1] > 0
    roll[table.onset[drum], pitch[drum], fam[drum]] = True
    if steps is not None:
        roll = np.pad(roll, ((0, max(steps - len(roll), 0)), (0, 0), (0, 0)))[:steps]
    return roll


def decode(roll: np.ndarray, beat_resolution: int, qpm: float = 120.0) -> NoteTable:
    """A NoteTable from bool [steps, 84, tracks] (or [bars, steps, 84, tracks], bars joined)."""
    roll = np.asarray(roll, bool)
    if roll.ndim == 4:
        roll = roll.reshape(-1, *roll.shape[2:])
    steps, _, tracks = roll.shape
    padded = np.pad(roll, ((1, 1), (0, 0), (0, 0))).astype(np.int8)
    edges = np.diff(padded, axis=0)  # +1 at a run's first step, -1 one past its last
    rows = []
    for t in range(tracks):
        if TRACKS[t] == "drums":
            s, p = np.nonzero(roll[:, :, t])
            rows.append((s, np.ones_like(s), p, t))
            continue
        p_on, s_on = np.nonzero(edges[:, :, t].T == 1)  # pitch-major, so starts and ends pair up
        _, s_off = np.nonzero(edges[:, :, t].T == -1)
        rows.append((s_on, s_off - s_on + 1, p_on, t))
    onset = np.concatenate([r[0] for r in rows]).astype(np.int64)
    return NoteTable(
        beat_resolution,
        onset,
        np.concatenate([r[1] for r in rows]),
        np.concatenate([r[2] for r in rows]) + LOWEST_PITCH,
        np.full(len(onset), 100),
        np.concatenate([np.full(len(r[0]), PROGRAMS[TRACKS[r[3]]]) for r in rows]),
        np.concatenate([np.full(len(r[0]), TRACKS[r[3]] == "drums") for r in rows]),
        np.concatenate([np.full(len(r[0]), r[3]) for r in rows]),
        tempo_tick=[0],
        tempo_qpm=[qpm],
        time_signatures=[(0, 4, 4)],
        track_names=NAMES[:tracks],
    ).sorted()


def to_phrases(roll, beat_resolution, bars=4, hop_bars=None):
    """Consecutive `bars`-bar windows (hop `hop_bars`, default `bars`) holding any note."""
    bar = 4 * beat_resolution
    hop = (hop_bars or bars) * bar
    span = bars * bar
    windows = [roll[s : s + span] for s in range(0, len(roll) - span + 1, hop)]
    windows = [w for w in windows if w.any()]
    if not windows:
        return np.zeros((0, bars, bar, PITCHES, len(TRACKS)), bool)
    return np.stack(windows).reshape(len(windows), bars, bar, PITCHES, len(TRACKS))

"""Time-grid changes on note tables, with the MMT reference's exact rounding (reference mmt.md §1.8)."""

from __future__ import annotations

import numpy as np

from music_codecs.note_table import NoteTable


def _round_half_even(x):
    # np.rint rounds halves to even, exactly like Python's round() on the same float64.
    return np.rint(x).astype(np.int64)


def adjust_resolution(table: NoteTable, new_resolution: int) -> NoteTable:
    """Move to `new_resolution` ticks per quarter as muspy's `adjust_resolution` does.

    With f = new / old (a float64, as in muspy): onset' = round(onset * f) and
    duration' = round((onset + duration) * f) - onset', Python rounding (half to even), so a
    note keeps its end on the new grid and may shrink to zero length (fix_zero_durations).
    Tempo and time-signature ticks are rounded the same way. Notes are re-sorted within
    tracks, since rounding can bring two onsets together.
    """
    new_resolution = int(new_resolution)
    if new_resolution <= 0:
        raise ValueError(f"resolution must be positive, got {new_resolution}")
    factor = new_resolution / table.resolution
    onset = _round_half_even(table.onset * factor)
    duration = _round_half_even((table.onset + table.duration) * factor) - onset
    signatures = table.time_signatures.copy()
    signatures[:, 0] = _round_half_even(signatures[:, 0] * factor)
    return table.replace(
        resolution=new_resolution,
        onset=onset,
        duration=duration,
        tempo_tick=_round_half_even(table.tempo_tick * factor),
        time_signatures=signatures,
    ).sorted()


def fix_zero_durations(table: NoteTable, minimum: int = 1) -> NoteTable:
    """Give every note of zero (or negative) length the duration `minimum` (MMT uses 1)."""
    duration = np.where(table.duration <= 0, int(minimum), table.duration)
    return table.replace(duration=duration)


def remove_duplicates(table: NoteTable) -> NoteTable:
    """Drop repeated notes, keeping the first, in the original order.

    A duplicate is what muspy's `Music.remove_duplicate` removes within a track: a note equal
    to an earlier one of the same track in (onset, duration, pitch, velocity), the attributes
    muspy's Note compares. muspy compares each note with every kept note (quadratic); here
    one np.unique over the rows does it. muspy then also drops a whole track equal to an
    earlier one (same program, drum flag, name, notes *and* control changes); tables hold no
    control changes, so that step is not reproduced (for MMT it makes no difference: its note
    rows are deduplicated again by value).
    """
    if not len(table):
        return table
    rows = np.stack([table.track, table.onset, table.duration, table.pitch, table.velocity], axis=1)
    _, first = np.unique(rows, axis=0, return_index=True)
    return table.select(np.sort(first))


def trim(table: NoteTable, end: int) -> NoteTable:
    """Keep the piece before tick `end`, like muspy's `Music.trim`.

    Notes starting at or after `end` are dropped; notes sounding past it are cut to end there.
    Tempo and time-signature events at or after `end` are dropped too.
    """
    end = int(end)
    kept = table.select(table.onset < end)
    duration = np.minimum(kept.onset + kept.duration, end) - kept.onset
    tempo = kept.tempo_tick < end
    return kept.replace(
        duration=duration,
        tempo_tick=kept.tempo_tick[tempo],
        tempo_qpm=kept.tempo_qpm[tempo],
        time_signatures=kept.time_signatures[kept.time_signatures[:, 0] < end],
    )

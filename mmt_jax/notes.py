"""From a music file or NoteTable to the MMT note array, as the reference's scripts do it.

The reference's convert_<ds>.py then extract.py (reference mmt.md §1.4, §1.9), step by step:
resolution 12 (round half to even), zero durations become 1, duplicate notes removed, pieces
ending before beat 40 or after beat 8000 dropped, drum tracks and dropped programs removed,
rows (beat, position, pitch, duration, program) deduplicated and sorted, pieces with fewer than
50 notes dropped, and the first note's beat moved to 0.
"""

from __future__ import annotations

import numpy as np

from mmt_jax.codec import PROGRAM_TO_INSTRUMENT, RESOLUTION
from music_codecs.errors import MusicFileError, UserError
from music_codecs.read import MIDI_SUFFIXES, MUSICXML_SUFFIXES  # noqa: F401  (MIDI_SUFFIXES re-exported)

MIN_END = RESOLUTION * 4 * 10  # 40 beats, in ticks: shorter pieces are dropped
MAX_END = RESOLUTION * 4 * 2000  # 8000 beats
MIN_NOTES = 50


class SkippedPiece(UserError):
    """A readable piece that the reference's pipeline leaves out; the message says why."""


def end_time(table):
    """The last event's tick as muspy counts it: note ends, tempo and time-signature changes.

    (muspy also counts key signatures and lyrics, which a NoteTable does not hold.)
    """
    ends = [table.end]
    if len(table.tempo_tick):
        ends.append(int(table.tempo_tick.max()))
    if len(table.time_signatures):
        ends.append(int(table.time_signatures[:, 0].max()))
    return max(ends)


def extract_notes(table):
    """The note array of a table already at resolution 12 (the reference's extract_notes).

    Drum notes and notes of dropped programs are removed; rows are unique and sorted by
    (beat, position, pitch, duration, program).
    """
    if table.resolution != RESOLUTION:
        raise ValueError(f"expected resolution {RESOLUTION}, got {table.resolution}")
    keep = ~table.is_drum & (PROGRAM_TO_INSTRUMENT[table.program] > 0)
    onset = table.onset[keep]
    rows = np.stack(
        [
            onset // RESOLUTION,
            onset % RESOLUTION,
            table.pitch[keep],
            table.duration[keep],
            table.program[keep],
        ],
        axis=1,
    ).astype(np.int64)
    return np.unique(rows.reshape(-1, 5), axis=0)  # = sorted(set(rows))


def dropped_notes(table):
    """What extract_notes leaves out: {"drum_notes": n, "dropped_programs": {program: n}}.

    MMT has no drum instrument, and 24 programs have no instrument (reference §1.3)."""
    drum = table.is_drum
    dropped = ~drum & (PROGRAM_TO_INSTRUMENT[table.program] == 0)
    programs, counts = np.unique(table.program[dropped], return_counts=True)
    return {
        "drum_notes": int(drum.sum()),
        "dropped_programs": {int(p): int(c) for p, c in zip(programs, counts)},
    }


def table_to_notes(table, min_notes=MIN_NOTES, filters=True, stats=None):
    """The full pipeline from a table at any resolution; raises SkippedPiece when dropped.

    filters=False keeps every piece (no length or note-count limits), e.g. to encode one file.
    stats: a dict that receives what happened to the notes: notes_in, duplicates (removed as
    muspy does, then as equal rows), drum_notes, dropped_programs {program: notes}, notes_out.
    """
    from music_codecs import quantize

    notes_in = len(table)
    table = quantize.adjust_resolution(table, RESOLUTION)
    table = quantize.fix_zero_durations(table, 1)
    table = quantize.remove_duplicates(table)
    dropped = dropped_notes(table)
    if stats is not None:
        stats.update(notes_in=notes_in, **dropped)
    end = end_time(table)
    if filters and end < MIN_END:
        raise SkippedPiece(f"too short: ends at beat {end / RESOLUTION:g} < 40")
    if filters and end > MAX_END:
        raise SkippedPiece(f"too long: ends at beat {end / RESOLUTION:g} > 8000")
    notes = extract_notes(table)
    if filters and len(notes) < min_notes:
        raise SkippedPiece(
            f"{len(notes)} notes after removing drums and dropped programs (fewer than {min_notes})"
        )
    if len(notes):
        notes[:, 0] -= notes[0, 0]
    if stats is not None:
        kept = notes_in - dropped["drum_notes"] - sum(dropped["dropped_programs"].values())
        stats.update(duplicates=kept - len(notes), notes_out=len(notes))
    return notes


def file_to_notes(path, backend="symusic", min_notes=MIN_NOTES, filters=True, stats=None):
    """The note array of a MIDI or MusicXML file (stats: as in table_to_notes)."""
    return table_to_notes(read_table(path, backend), min_notes=min_notes, filters=filters, stats=stats)


def describe_drops(stats):
    """One line naming what was left out, e.g. "dropped 2,761 drum notes, 0 of other programs"."""
    programs = stats.get("dropped_programs", {})
    parts = [f"{stats.get('drum_notes', 0):,} drum notes (MMT has no drum instrument)"]
    listed = ", ".join(f"program {p}: {n:,}" for p, n in sorted(programs.items()))
    parts.append(
        f"{sum(programs.values()):,} notes of programs outside MMT's 64 instruments"
        + (f" ({listed})" if listed else "")
    )
    if stats.get("duplicates"):
        parts.append(f"{stats['duplicates']:,} duplicate notes")
    return "dropped " + "; ".join(parts)


def read_table(path, backend="symusic"):
    """Read a MIDI or MusicXML file; MusicXML repeats are expanded where music21 can."""
    from music_codecs.read import read_music

    if not is_musicxml(path):
        return read_music(path, backend=backend)
    return with_repeats(read_music, path)


def with_repeats(read, path):
    """read(path, expand_repeats=True), or the score as written if its repeats are malformed.

    muspy's MusicXML reader, which the reference uses, expands repeats by default; music21
    refuses some scores' repeat marks (7 of the 637 corpus pieces), and those are better kept
    as written than lost.
    """
    try:
        return read(path, expand_repeats=True)
    except MusicFileError as err:
        if not err.reason.startswith("cannot expand repeats"):
            raise
        return read(path, expand_repeats=False)


def is_musicxml(path):
    return str(path).lower().endswith(MUSICXML_SUFFIXES)


NOTES_HEADER = "beat,position,pitch,duration,program"
CODES_HEADER = "type,beat,position,pitch,duration,instrument"


def save_csv(path, array, header=NOTES_HEADER):
    """An int array as CSV with a header line, the reference's .csv format (written
    atomically: a full disk mid-write leaves the old file)."""
    import contextlib

    from music_codecs.atomic import atomic_file

    target = contextlib.nullcontext(path) if hasattr(path, "write") else atomic_file(path)
    with target as f:
        np.savetxt(
            f,
            np.asarray(array).reshape(-1, len(header.split(","))),
            fmt="%d",
            delimiter=",",
            header=header,
            comments="",
        )


def load_array(path, columns):
    """An [N, columns] int64 array from a .npy file or a .csv file with a header line."""
    path = str(path)
    try:
        if path.lower().endswith(".csv"):
            array = np.loadtxt(path, dtype=np.int64, delimiter=",", skiprows=1, ndmin=2)
        else:
            array = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as err:
        raise UserError(f"{path}: cannot load array ({err})") from None
    array = np.asarray(array)
    if array.size == 0:
        return np.zeros((0, columns), np.int64)
    if array.ndim != 2 or array.shape[1] != columns or not np.issubdtype(array.dtype, np.integer):
        raise UserError(
            f"{path}: expected an integer array of shape [N, {columns}], got {array.dtype} {array.shape}"
        )
    return array.astype(np.int64)

"""Read MusicXML (.xml, .mxl, .musicxml) and music21's built-in corpus into NoteTables.

The music21 corpus ships with the package (Bach chorales, Beethoven and Haydn quartets,
Palestrina, ...): it is the default symbolic dataset, needing no download.

* Resolution: the smallest multiple of 12 ticks per quarter at which every onset and duration
  (music21 keeps tuplets as exact fractions) falls on a tick, so nothing is rounded; pieces
  needing more than MAX_RESOLUTION ticks per quarter are rounded to 480 instead.
* One track per part, in score order, named after the part; the program is the part's
  instrument's General MIDI program where music21 knows it, else 0; unpitched (percussion)
  parts are drum tracks.
* Tied notes are merged into one note (music21's stripTies); chords give one note per pitch;
  grace notes keep duration 0; velocity is the note's dynamic velocity, else 64.
* Repeats are not expanded unless `expand_repeats=True` (music21's expandRepeats).
* Tempos are the score's metronome marks (none if it has none); time signatures come from
  the first part.
"""

from __future__ import annotations

import math
from fractions import Fraction
from pathlib import Path

import numpy as np

from music_codecs.errors import MusicFileError
from music_codecs.note_table import NoteTable

MUSICXML_SUFFIXES = (".xml", ".mxl", ".musicxml")
MAX_RESOLUTION = 10080  # lcm(1..10) * 4: any tuplet up to 10, down to 1/64 notes
DEFAULT_VELOCITY = 64


def read_musicxml(path, expand_repeats=False) -> NoteTable:
    """Read a MusicXML file with music21; bad files raise MusicFileError."""
    return score_to_table(_parse(path, "musicxml"), path, expand_repeats)


def _parse(path, fmt=None):
    import music21

    if not Path(path).is_file():
        raise MusicFileError(path, "no such file")
    try:
        score = music21.converter.parse(str(path), format=fmt)
    except Exception as err:  # noqa: BLE001 - music21 raises many types on bad input
        raise MusicFileError(path, f"cannot parse ({type(err).__name__}: {err})") from None
    if isinstance(score, music21.stream.Opus):  # a file of several pieces: take the first
        if not score.scores:
            raise MusicFileError(path, "no notes")
        score = score.scores[0]
    return score


def list_corpus(composers=None) -> list:
    """Paths of the MusicXML pieces in music21's built-in corpus (optionally of some composers)."""
    from music21 import corpus

    if composers is None:
        paths = corpus.getPaths(fileExtensions=("mxl", "xml", "musicxml"))
    else:
        names = [composers] if isinstance(composers, str) else composers
        paths = [p for name in names for p in corpus.getComposer(name)]
    return sorted(str(p) for p in paths if Path(p).suffix.lower() in MUSICXML_SUFFIXES)


def read_corpus_piece(name_or_path, expand_repeats=False) -> NoteTable:
    """Read a corpus piece by name (e.g. "bach/bwv66.6") or by path, in any format music21 reads."""
    from music21 import corpus

    path = Path(name_or_path)
    if not path.is_file():
        try:
            found = corpus.getWork(str(name_or_path))
        except Exception:  # noqa: BLE001 - music21's CorpusException: not found
            found = None
        if isinstance(found, list):
            found = found[0] if found else None
        if not found:
            raise MusicFileError(name_or_path, "not in the music21 corpus")
        path = Path(found)
    return score_to_table(_parse(path), path, expand_repeats)


def score_to_table(score, path="<score>", expand_repeats=False) -> NoteTable:
    """Convert a parsed music21 Score."""
    from music21 import instrument as music21_instrument
    from music21 import note, tempo

    if expand_repeats:
        try:
            score = score.expandRepeats()
        except Exception as err:  # noqa: BLE001 - inconsistent repeat marks
            raise MusicFileError(path, f"cannot expand repeats ({err})") from None
    parts = list(score.parts) or [score]
    rows, names = [], []  # (onset, duration in quarters, pitch, velocity, program, drum, track)
    for index, part in enumerate(parts):
        part = part.stripTies()
        instrument = part.getInstrument()
        program = getattr(instrument, "midiProgram", None) or 0
        elements = list(part.flatten().notes)
        drum = isinstance(instrument, music21_instrument.UnpitchedPercussion) or any(
            isinstance(e, note.Unpitched) for e in elements
        )
        for element in elements:
            onset = Fraction(element.offset)
            length = Fraction(element.duration.quarterLength)
            velocity = element.volume.velocity
            if isinstance(element, note.Unpitched):
                pitches = [element.displayPitch().midi]
            else:
                pitches = [p.midi for p in getattr(element, "pitches", ())]
            rows += [(onset, length, p, velocity or DEFAULT_VELOCITY, program, drum, index) for p in pitches]
        names.append((part.partName or getattr(instrument, "instrumentName", None) or "").strip())
    if not rows:
        raise MusicFileError(path, "no notes")
    flat = score.flatten()
    marks = [
        (Fraction(flat.elementOffset(m)), m.getQuarterBPM())
        for m in flat.getElementsByClass(tempo.MetronomeMark)
        if m.number is not None
    ]
    signatures = [
        (Fraction(ts.offset), ts.numerator, ts.denominator)
        for ts in parts[0].flatten().getElementsByClass("TimeSignature")
    ]
    times = [r[0] for r in rows] + [r[1] for r in rows] + [m[0] for m in marks] + [s[0] for s in signatures]
    resolution = _resolution(times)

    def tick(q):
        return int(round(q * resolution))

    onset = np.array([tick(r[0]) for r in rows], np.int64)
    end = np.array([tick(r[0] + r[1]) for r in rows], np.int64)
    table = NoteTable(
        resolution,
        onset,
        end - onset,
        [min(max(r[2], 0), 127) for r in rows],
        [min(max(int(r[3]), 1), 127) for r in rows],
        [r[4] for r in rows],
        [r[5] for r in rows],
        [r[6] for r in rows],
        tempo_tick=[tick(m[0]) for m in marks],
        tempo_qpm=[m[1] for m in marks],
        time_signatures=np.array(sorted({(tick(s[0]), s[1], s[2]) for s in signatures}), np.int64).reshape(
            -1, 3
        ),
        track_names=tuple(names),
    )
    return _drop_empty_tracks(table).sorted()


def _resolution(times):
    resolution = 12
    for t in times:
        resolution = math.lcm(resolution, Fraction(t).limit_denominator(MAX_RESOLUTION).denominator)
        if resolution > MAX_RESOLUTION:
            return 480
    return resolution


def _drop_empty_tracks(table):
    """Renumber tracks so that parts without notes (e.g. empty staves) leave no gap."""
    used = np.unique(table.track)
    new_index = np.full(max(table.num_tracks, 1), -1)
    new_index[used] = np.arange(len(used))
    names = tuple(table.track_names[i] for i in used) if table.track_names else ()
    return table.replace(track=new_index[table.track], track_names=names)

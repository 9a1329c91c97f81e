"""Read MusicXML (.xml, .mxl, .musicxml) and music21's built-in corpus into NoteTables.

The music21 corpus ships with the package (Bach chorales, Beethoven and Haydn quartets,
Palestrina, ...): it is the default symbolic dataset, needing no download.

* Resolution: the smallest multiple of 12 ticks per quarter at which every onset and duration
  (music21 keeps tuplets as exact fractions) falls on a tick, so nothing is rounded; pieces
  needing more than MAX_RESOLUTION ticks per quarter are rounded to 480 instead.
* One track per part, in score order, named after the part. The program (`part_program`) is the
  part's instrument's General MIDI program where music21 knows one; else the first entry of
  PART_NAME_PROGRAMS that matches the part's name, then its instrument's name (most corpus
  parts carry a name such as "Violin I" or "Soprano" but no program); else 0 (piano), counted
  as a fallback. Unpitched (percussion) parts are drum tracks.
* Tied notes are merged into one note (music21's stripTies); chords give one note per pitch;
  grace notes keep duration 0; velocity is the note's dynamic velocity, else 64.
* Repeats are not expanded unless `expand_repeats=True` (music21's expandRepeats).
* Tempos are the score's metronome marks (none if it has none); time signatures come from
  the first part.
"""

from __future__ import annotations

import copy
import math
import re
import unicodedata
from fractions import Fraction
from pathlib import Path

import numpy as np

from music_codecs.errors import MusicFileError
from music_codecs.note_table import NoteTable

MUSICXML_SUFFIXES = (".xml", ".mxl", ".musicxml")
MAX_RESOLUTION = 10080  # lcm(1..10) * 4: any tuplet up to 10, down to 1/64 notes
DEFAULT_VELOCITY = 64
FALLBACK_PROGRAM = 0

# Part or instrument name -> General MIDI program (0-based), first match wins, so specific names
# come before the words they contain ("bass clarinet" before "bass", "english horn" before
# "horn", "tenor sax" before "tenor"). Patterns are regular expressions matched on the
# lower-cased name with accents removed; English, Italian, German and French names, and the
# voice names of chorales and Renaissance polyphony. docs/results.md (MMT, instruments) shows
# the same table.
PART_NAME_PROGRAMS = (
    # winds (before the voices and strings whose words they contain)
    (r"bass(et)?[- ]?(clarinet|klarinette|clarinetto)|klarinette|clarinet|clarinetto|clarinette", 71),
    (r"contra[- ]?bassoon|contrafagotto|kontrafagott|bassoon|fagott|fagotto|basson", 70),
    (r"english horn|cor anglais|corno inglese|englischhorn", 69),
    (r"oboe|hautbois|oboi|hoboe", 68),
    (r"piccolo|ottavino", 72),
    (r"recorder|flauto dolce|blockflote|flute a bec", 74),
    (r"pan ?flute|panflote", 75),
    (r"flute|flauto|flauti|flote|traverso|traversiere", 73),
    (r"soprano sax", 64),
    (r"alto sax", 65),
    (r"tenor sax", 66),
    (r"baritone sax", 67),
    (r"\bsax", 65),
    # brass
    (r"trombone|posaune|tromboni", 57),
    (r"tuba|euphonium", 58),
    (r"trumpet|tromba|trombe|trompete|trompette|cornet|clarino|clarini|flugelhorn", 56),
    (r"horn|corno|corni|\bcor\b", 60),
    # strings
    (r"violone|contrabass|kontrabass|double bass|contrabbasso|string bass|\bbass[io]? ?viol", 43),
    (r"viol(on)?cell|\bcello|violoncelle|viola da gamba|gamba", 42),
    (r"\bviola\b|\bviole\b|bratsche", 41),
    (r"viol(in|ino|ini|ine|on)|fiddle|geige", 40),
    (r"strings|string ensemble|streicher|archi", 48),
    (r"harp|arpa|harfe|harpe", 46),
    (r"lute|liuto|laute|theorbo|guitar|chitarra|gitarre|guitare", 24),
    (r"mandolin", 25),
    (r"banjo", 105),
    # keyboards and pitched percussion
    (r"harpsichord|cembalo|clavecin|clavicembalo", 6),
    (r"organ|organo|orgel|orgue|continuo", 19),
    (r"celest", 8),
    (r"glockenspiel", 9),
    (r"vibraphone", 11),
    (r"marimba", 12),
    (r"xylophon", 13),
    (r"tubular bell|chimes|campane", 14),
    (r"accordion|akkordeon", 21),
    (r"harmonica", 22),
    (r"timpan|pauke|kettle ?drum", 47),
    (r"piano|klavier|clavier|pianoforte|fortepiano|keyboard", 0),
    # voices: choir aahs (52), which MMT reads as "voices"
    (
        r"soprano|sopran|\balto\b|\balt\b|contralto|mezzo|tenor|tenore|baritone|bariton|\bbass\b|"
        r"\bbasso\b|\bbassus\b|cantus|\bcanto\b|altus|quintus|quinto|sextus|septimus|"
        r"contratenor|discantus|superius|triplum|motetus|duplum|treble|voice|\bvox\b|"
        r"gesang|singstimme|stimme|choir|chorus|\bcoro\b|chor\b|solo voice|^(s|a|t|b|ct|c)$",
        52,
    ),
)
_PART_NAME_PATTERNS = tuple((re.compile(p), program) for p, program in PART_NAME_PROGRAMS)


def program_from_name(name):
    """The General MIDI program PART_NAME_PROGRAMS gives a part or instrument name, or None."""
    if not name:
        return None
    key = unicodedata.normalize("NFKD", str(name)).encode("ascii", "ignore").decode().lower()
    key = re.sub(r"[^a-z0-9]+", " ", key).strip()
    for pattern, program in _PART_NAME_PATTERNS:
        if pattern.search(key):
            return program
    return None


def part_program(instrument, part_name=""):
    """(program, source): source "instrument" (music21's program), "name" (the table, on the
    part's name, then the instrument's name) or "fallback" (program 0)."""
    program = getattr(instrument, "midiProgram", None)
    if program is not None:
        return int(program), "instrument"
    for name in (
        part_name,
        getattr(instrument, "partName", None),
        getattr(instrument, "instrumentName", None),
    ):
        program = program_from_name(name)
        if program is not None:
            return program, "name"
    return FALLBACK_PROGRAM, "fallback"


def read_musicxml(path, expand_repeats=False, parts=None) -> NoteTable:
    """Read a MusicXML file with music21; bad files raise MusicFileError.

    parts: a list that receives one (part name, program, source) per part (see part_program)."""
    return score_to_table(_parse(path, "musicxml"), path, expand_repeats, parts)


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


def read_corpus_piece(name_or_path, expand_repeats=False, parts=None) -> NoteTable:
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
    return score_to_table(_parse(path), path, expand_repeats, parts)


def score_to_table(score, path="<score>", expand_repeats=False, parts=None) -> NoteTable:
    """Convert a parsed music21 Score (parts: as in read_musicxml)."""
    from music21 import instrument as music21_instrument
    from music21 import note, tempo

    order = None
    if expand_repeats:
        try:
            order = _played_measures(score)
            if order is None:  # parts of different lengths: music21's own (slow) expansion
                score = score.expandRepeats()
        except Exception as err:  # noqa: BLE001 - inconsistent repeat marks
            raise MusicFileError(path, f"cannot expand repeats ({err})") from None
    found = parts
    parts = list(score.parts) or [score]
    rows, names = [], []  # (onset, duration in quarters, pitch, velocity, program, drum, track)
    for index, part in enumerate(parts):
        instrument = part.getInstrument()
        name = (part.partName or getattr(instrument, "instrumentName", None) or "").strip()
        program, source = part_program(instrument, part.partName or "")
        elements = list(part.flatten().notes)
        drum = isinstance(instrument, music21_instrument.UnpitchedPercussion) or any(
            isinstance(e, note.Unpitched) for e in elements
        )
        rows += [(*r, program, drum, index) for r in _merge_ties(elements)]
        names.append(name)
        if found is not None and elements:
            found.append((name, program, "drum" if drum else source))
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
    if order is not None:
        rows, marks, signatures = (_replay(items, *order) for items in (rows, marks, signatures))
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


def _played_measures(score):
    """(starts, played) for expanding repeats without copying the score: `starts` are the
    measure offsets (the first part's; every part must have the same measures, else None) and
    `played` is [(measure index, new offset)] in playing order, from music21's repeat
    Expander run on a skeleton of the first part (empty measures with its barlines, repeat
    expressions and repeat brackets). music21's expandRepeats deep-copies every note of every
    repeated measure and took 165 of the 170 s of the corpus's slowest score (Beethoven's op. 74);
    the skeleton expands in well under a second."""
    from music21 import repeat, spanner, stream

    parts = list(score.parts) or [score]
    measures = [list(p.getElementsByClass(stream.Measure)) for p in parts]
    if not measures[0] or any(len(m) != len(measures[0]) for m in measures):
        return None
    first = measures[0]
    starts = [Fraction(m.offset) for m in first]
    end = max(Fraction(first[-1].offset) + Fraction(first[-1].highestTime), starts[-1])
    lengths = [b - a for a, b in zip(starts, starts[1:] + [end])]
    # Measures without repeat marks are merged into one blank measure per run: the Expander
    # copies every measure many times with a cost that grows with their number.
    from music21 import bar

    bracketed = {
        id(m) for b in score.spannerBundle.getByClass(spanner.RepeatBracket) for m in b.getSpannedElements()
    }
    segments, marks = [], {}
    for index, m in enumerate(first):
        marks[index] = list(m.getElementsByClass(repeat.RepeatExpression))
        special = (
            isinstance(m.leftBarline, bar.Repeat)
            or isinstance(m.rightBarline, bar.Repeat)
            or marks[index]
            or id(m) in bracketed
        )
        if special or not segments or segments[-1][1]:
            segments.append(([index], bool(special)))
        else:
            segments[-1][0].append(index)
    skeleton, copies = stream.Part(), {}
    for number, (indices, _) in enumerate(segments, start=1):
        blank = stream.Measure(number=number)  # numbers say which segment a copy is
        blank.leftBarline = _barline(first[indices[0]].leftBarline)
        blank.rightBarline = _barline(first[indices[-1]].rightBarline)
        for index in indices:
            for mark in marks[index]:
                blank.insert(0, copy.deepcopy(mark))
            copies[id(first[index])] = blank
        skeleton.append(blank)
    for bracket in score.spannerBundle.getByClass(spanner.RepeatBracket):
        spanned = [copies[id(m)] for m in bracket.getSpannedElements() if id(m) in copies]
        if spanned:
            skeleton.insert(0, spanner.RepeatBracket(spanned, number=bracket.number))
    expander = repeat.Expander(skeleton)
    if expander.isExpandable() is None:  # nothing to repeat
        return starts, list(enumerate(starts))
    played, offset = [], Fraction(0)
    for m in expander.process().getElementsByClass(stream.Measure):
        for index in segments[m.number - 1][0]:
            played.append((index, offset))
            offset += lengths[index]
    return starts, played


def _barline(line):
    """A fresh copy of a barline (a deep copy would drag its measure along)."""
    from music21 import bar

    if line is None:
        return None
    if isinstance(line, bar.Repeat):
        return bar.Repeat(direction=line.direction, times=line.times)
    return bar.Barline(line.type)


def _replay(items, starts, played):
    """Items (tuples starting with an offset) repeated as the measures holding them are played."""
    import bisect

    by_measure = {}
    for item in items:
        index = max(bisect.bisect_right(starts, item[0]) - 1, 0)
        by_measure.setdefault(index, []).append(item)
    out = []
    for index, offset in played:
        shift = offset - starts[index]
        out += [(item[0] + shift, *item[1:]) for item in by_measure.get(index, ())]
    return out


def _merge_ties(elements):
    """(onset, length in quarters, pitch, velocity) per sounding note of a part's notes and
    chords in offset order, each tied chain merged into its first note.

    This does what music21's stripTies does, per pitch, in one pass over the notes; stripTies
    re-sorts the part for every merge and took two thirds of the time of the corpus's largest
    scores (e.g. 28 of 41 s for a Beethoven quartet movement). As there, a note tied from
    before extends the note of its pitch that ends where it starts (whether or not it is marked
    as the tie's end, as some corpus files leave out); a tie with no such note starts anew."""
    from music21 import note

    rows, open_rows = [], {}
    for element in elements:
        onset = Fraction(element.offset)
        length = Fraction(element.duration.quarterLength)
        velocity = element.volume.velocity or DEFAULT_VELOCITY
        if isinstance(element, note.Unpitched):
            voiced = [(element.displayPitch().midi, element.tie)]
        elif isinstance(element, note.Note):
            voiced = [(element.pitch.midi, element.tie)]
        else:  # a chord: every pitch has its own tie
            voiced = [(n.pitch.midi, n.tie if n.tie is not None else element.tie) for n in element.notes]
        for pitch, tie in voiced:
            kind = tie.type if tie is not None else None
            row = open_rows.pop(pitch, None)
            if row is not None and rows[row][0] + rows[row][1] == onset:
                rows[row][1] += length
                if kind in ("start", "continue"):
                    open_rows[pitch] = row
                continue
            if kind in ("start", "continue"):
                open_rows[pitch] = len(rows)
            rows.append([onset, length, pitch, velocity])
    return [tuple(r) for r in rows]


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

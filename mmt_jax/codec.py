"""The MMT event codec: note arrays <-> rows of six integer codes (reference mmt.md §1).

A note array has one row per note, columns (beat, position, pitch, duration, program), with
onsets at RESOLUTION ticks per quarter note. A code array has one row per event, columns
FIELDS = (type, beat, position, pitch, duration, instrument); code 0 in the last five fields
means "none" and is also the padding value. Plain NumPy, vectorised, no JAX.
"""

from __future__ import annotations

import numpy as np

from music_codecs.errors import UserError
from music_codecs.note_table import NoteTable

RESOLUTION = 12  # ticks per quarter note (the committed encoding.json's 24 is stale, §0.1)
MAX_BEAT = 1024  # the encoding table's last beat; notes with beat > MAX_BEAT are skipped
MODEL_MAX_BEAT = 256  # what every reference script trains and samples with
MAX_DURATION = 384  # longer notes are clipped to 32 beats
DECODE_QPM = 100.0  # decoded music gets one tempo, like the reference
DECODE_VELOCITY = 64

FIELDS = ("type", "beat", "position", "pitch", "duration", "instrument")
NOTE_COLUMNS = ("beat", "position", "pitch", "duration", "program")

TYPE_NAMES = ("start-of-song", "instrument", "start-of-notes", "note", "end-of-song")
SOS, INSTRUMENT, SON, NOTE, EOS = range(5)

KNOWN_DURATIONS = np.array(
    [
        1,
        2,
        3,
        4,
        5,
        6,
        7,
        8,
        9,
        10,
        11,
        12,
        15,
        16,
        18,
        20,
        21,
        24,
        30,
        36,
        40,
        42,
        48,
        60,
        72,
        84,
        96,
        120,
        144,
        168,
        192,
        384,
    ],
    np.int64,
)

# Instrument code (index) -> (name, program used when decoding); code 0 is "none".
_INSTRUMENTS = (
    (None, -1),
    ("piano", 0),
    ("electric-piano", 4),
    ("harpsichord", 6),
    ("clavinet", 7),
    ("celesta", 8),
    ("glockenspiel", 9),
    ("music-box", 10),
    ("vibraphone", 11),
    ("marimba", 12),
    ("xylophone", 13),
    ("tubular-bells", 14),
    ("dulcimer", 15),
    ("organ", 16),
    ("church-organ", 19),
    ("accordion", 21),
    ("harmonica", 22),
    ("bandoneon", 23),
    ("nylon-string-guitar", 24),
    ("steel-string-guitar", 25),
    ("electric-guitar", 26),
    ("bass", 32),
    ("electric-bass", 33),
    ("slap-bass", 36),
    ("synth-bass", 38),
    ("violin", 40),
    ("viola", 41),
    ("cello", 42),
    ("contrabass", 43),
    ("harp", 46),
    ("timpani", 47),
    ("strings", 49),
    ("synth-strings", 50),
    ("voices", 52),
    ("orchestra-hit", 55),
    ("trumpet", 56),
    ("trombone", 57),
    ("tuba", 58),
    ("horn", 60),
    ("brasses", 61),
    ("synth-brasses", 62),
    ("soprano-saxophone", 64),
    ("alto-saxophone", 65),
    ("tenor-saxophone", 66),
    ("baritone-saxophone", 67),
    ("oboe", 68),
    ("english-horn", 69),
    ("bassoon", 70),
    ("clarinet", 71),
    ("piccolo", 72),
    ("flute", 73),
    ("recorder", 74),
    ("pan-flute", 75),
    ("ocarina", 79),
    ("lead", 80),
    ("pad", 88),
    ("sitar", 104),
    ("banjo", 105),
    ("shamisen", 106),
    ("koto", 107),
    ("kalimba", 108),
    ("bag-pipe", 109),
    ("shehnai", 111),
    ("melodic-tom", 117),
    ("synth-drums", 118),
)
INSTRUMENT_NAMES = tuple(name for name, _ in _INSTRUMENTS)  # code -> name (None for 0)
INSTRUMENT_PROGRAMS = np.array([p for _, p in _INSTRUMENTS], np.int64)  # code -> program
INSTRUMENT_CODES = {name: code for code, name in enumerate(INSTRUMENT_NAMES) if name}


def _program_names():
    # MIDI program -> instrument name, None for the 24 dropped programs (reference §1.3).
    spans = [
        (0, 3, "piano"),
        (4, 5, "electric-piano"),
        (16, 18, "organ"),
        (20, 20, "organ"),
        (26, 31, "electric-guitar"),
        (33, 35, "electric-bass"),
        (36, 37, "slap-bass"),
        (38, 39, "synth-bass"),
        (44, 45, "strings"),
        (48, 49, "strings"),
        (50, 51, "synth-strings"),
        (52, 54, "voices"),
        (59, 59, "trumpet"),
        (62, 63, "synth-brasses"),
        (76, 78, None),
        (80, 87, "lead"),
        (88, 95, "pad"),
        (96, 103, None),
        (110, 110, "violin"),
        (112, 116, None),
        (118, 119, "synth-drums"),
        (120, 127, None),
    ]
    names = [None] * 128
    for code in range(1, len(_INSTRUMENTS)):  # a code's own decoding program
        names[INSTRUMENT_PROGRAMS[code]] = INSTRUMENT_NAMES[code]
    for first, last, name in spans:
        names[first : last + 1] = [name] * (last - first + 1)
    return tuple(names)


PROGRAM_INSTRUMENT_NAMES = _program_names()  # program -> name or None (dropped)
PROGRAM_TO_INSTRUMENT = np.array(  # program -> instrument code, 0 for dropped programs
    [INSTRUMENT_CODES[n] if n else 0 for n in PROGRAM_INSTRUMENT_NAMES], np.int64
)
DROPPED_PROGRAMS = tuple(p for p in range(128) if PROGRAM_TO_INSTRUMENT[p] == 0)

# Duration in ticks (0..MAX_DURATION) -> code; argmin picks the first, i.e. smaller, on ties.
DURATION_TO_CODE = (
    np.argmin(np.abs(np.arange(MAX_DURATION + 1)[:, None] - KNOWN_DURATIONS[None, :]), axis=1) + 1
)


def vocab_sizes(max_beat=MODEL_MAX_BEAT):
    """Codes per field as the model sees them: [5, 257, 13, 129, 33, 65] for max_beat 256."""
    return [
        len(TYPE_NAMES),
        max_beat + 1,
        RESOLUTION + 1,
        129,
        len(KNOWN_DURATIONS) + 1,
        len(INSTRUMENT_NAMES),
    ]


def instrument_code(name):
    """The code of an instrument name ("piano", "violin", ...), a UserError if unknown."""
    key = name.strip().lower().replace(" ", "-").replace("_", "-")
    if key not in INSTRUMENT_CODES:
        raise UserError(f"unknown instrument {name!r}; known: {', '.join(INSTRUMENT_CODES)}")
    return INSTRUMENT_CODES[key]


def instrument_codes(names):
    """Codes for a comma-separated string or a list of instrument names."""
    if isinstance(names, str):
        names = [n for n in names.split(",") if n.strip()]
    return [instrument_code(n) for n in names]


def duration_code(duration):
    """Duration code(s) of tick duration(s): clipped to MAX_DURATION, nearest known, ties down."""
    duration = np.asarray(duration, np.int64)
    if np.any(duration < 0):
        raise ValueError("durations must be non-negative")
    return DURATION_TO_CODE[np.minimum(duration, MAX_DURATION)]


def _check_notes(notes):
    notes = np.asarray(notes)
    if notes.size == 0:
        return np.zeros((0, 5), np.int64)
    if notes.ndim != 2 or notes.shape[1] != 5:
        raise ValueError(
            f"notes must have shape [N, 5] (beat, position, pitch, duration, program), got {notes.shape}"
        )
    notes = notes.astype(np.int64)
    limits = (
        ("beat", 0, None),
        ("position", 0, RESOLUTION - 1),
        ("pitch", 0, 127),
        ("duration", 0, None),
        ("program", 0, 127),
    )
    for column, (name, low, high) in zip(notes.T, limits):
        if column.min() < low or (high is not None and column.max() > high):
            raise ValueError(f"note {name} out of range [{low}, {'' if high is None else high}]")
    return notes


def encode_notes(notes, max_beat=MAX_BEAT):
    """Note rows -> code rows: SOS, sorted instrument rows, SON, one row per note, EOS.

    Notes keep their order; notes with beat > max_beat or a dropped program are skipped. The
    instrument rows list every known instrument among *all* notes passed in, as the reference
    does (including those of notes skipped for their beat).
    """
    notes = _check_notes(notes)
    instruments = PROGRAM_TO_INSTRUMENT[notes[:, 4]]
    present = np.unique(instruments[instruments > 0])
    keep = (notes[:, 0] <= max_beat) & (instruments > 0)
    kept = notes[keep]
    n_inst, n_notes = len(present), len(kept)
    codes = np.zeros((n_inst + n_notes + 3, 6), np.int64)
    codes[0, 0] = SOS
    codes[1 : 1 + n_inst, 0] = INSTRUMENT
    codes[1 : 1 + n_inst, 5] = present
    codes[1 + n_inst, 0] = SON
    rows = codes[2 + n_inst : 2 + n_inst + n_notes]
    rows[:, 0] = NOTE
    rows[:, 1:4] = kept[:, 0:3] + 1
    rows[:, 4] = duration_code(kept[:, 3])
    rows[:, 5] = instruments[keep]
    codes[-1, 0] = EOS
    return codes


# Far beyond any vocabulary (the paper's: 256 beats), and 2**20 beats * RESOLUTION ticks stays
# well inside what a MIDI file's 28-bit delta times can reach from tick 0.
MAX_DECODE_BEAT = 2**20


def decode_notes(codes):
    """Code rows -> note rows (beat, position, pitch, duration, program), up to the first EOS.

    SOS, instrument and SON rows are skipped; an array that is not [N, 6] whole numbers, an
    unknown type or a note row with a code out of its field's range (a beat past
    MAX_DECODE_BEAT included: no MIDI file could hold it) raises ValueError.
    """
    codes = np.asarray(codes)
    if codes.size == 0:
        codes = codes.reshape(0, 6)
    if codes.ndim != 2 or codes.shape[1] != 6:
        raise ValueError(f"code rows must be an array of shape [N, 6], got shape {codes.shape}")
    if not np.issubdtype(codes.dtype, np.integer):
        if not (np.issubdtype(codes.dtype, np.number) and np.isfinite(codes).all()):
            raise ValueError(f"code rows must be whole numbers, got {codes.dtype}")
        if (codes != np.round(codes)).any() or np.abs(codes).max(initial=0) >= 2**62:
            raise ValueError("code rows must be whole numbers (got fractions or huge values)")
    codes = codes.astype(np.int64)
    types = codes[:, 0]
    eos = np.flatnonzero(types == EOS)
    codes = codes[: eos[0]] if len(eos) else codes
    types = codes[:, 0]
    bad = (types < 0) | (types > NOTE)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise ValueError(f"unknown event type {types[row]} in row {row}")
    rows = codes[types == NOTE]
    highs = (MAX_DECODE_BEAT, RESOLUTION, 128, len(KNOWN_DURATIONS), len(INSTRUMENT_NAMES) - 1)
    for field, high in enumerate(highs, start=1):
        column = rows[:, field]
        if len(column) and (column.min() < 1 or (high is not None and column.max() > high)):
            raise ValueError(f"note row with {FIELDS[field]} code out of range [1, {high}]")
    notes = np.empty((len(rows), 5), np.int64)
    notes[:, 0:3] = rows[:, 1:4] - 1
    notes[:, 3] = KNOWN_DURATIONS[rows[:, 4] - 1]
    notes[:, 4] = INSTRUMENT_PROGRAMS[rows[:, 5]]
    return notes


def notes_to_table(notes, qpm=DECODE_QPM, time_signature=None):
    """Note rows -> a NoteTable at RESOLUTION with one tempo (100 qpm as the reference, or
    `qpm`), one time signature at tick 0 when given as (numerator, denominator), and one track
    per program.

    Tracks are ordered by program; notes keep their order within a track (as the reference's
    reconstruct does); velocity is 64.
    """
    notes = _check_notes(notes)
    programs, track = np.unique(notes[:, 4], return_inverse=True)
    order = np.argsort(track, kind="stable")
    notes, track = notes[order], track[order]
    n = len(notes)
    return NoteTable(
        RESOLUTION,
        onset=notes[:, 0] * RESOLUTION + notes[:, 1],
        duration=notes[:, 3],
        pitch=notes[:, 2],
        velocity=np.full(n, DECODE_VELOCITY),
        program=notes[:, 4],
        is_drum=np.zeros(n, bool),
        track=track,
        tempo_tick=[0],
        tempo_qpm=[float(qpm)],
        time_signatures=np.array([[0, *time_signature]] if time_signature else np.zeros((0, 3)), np.int64),
        track_names=[PROGRAM_INSTRUMENT_NAMES[p] or "" for p in programs],
    )


def decode(codes, qpm=DECODE_QPM, time_signature=None):
    """Code rows -> NoteTable (decode_notes then notes_to_table)."""
    return notes_to_table(decode_notes(codes), qpm, time_signature)


def get_encoding(max_beat=MAX_BEAT):
    """The reference's encoding dictionary (written as notes/encoding.json by prepare).

    Same keys and values as the reference's get_encoding() at resolution 12, so that a folder we
    prepare loads in the reference's scripts and theirs loads here. json.dump turns the integer
    keys into strings and None into "null", as in the reference.
    """

    def with_none(mapping):
        mapping[None] = 0
        return mapping

    def inverse(mapping):
        return {v: k for k, v in mapping.items()}

    type_map = {name: code for code, name in enumerate(TYPE_NAMES)}
    beat_map = with_none({i: i + 1 for i in range(max_beat + 1)})
    position_map = with_none({i: i + 1 for i in range(RESOLUTION)})
    pitch_map = with_none({i: i + 1 for i in range(128)})
    duration_map = with_none({i: int(DURATION_TO_CODE[i]) for i in range(MAX_DURATION + 1)})
    instrument_map = with_none({name: code for name, code in INSTRUMENT_CODES.items()})
    program_map = {p: PROGRAM_INSTRUMENT_NAMES[p] for p in range(128)}
    instrument_program_map = {name: int(INSTRUMENT_PROGRAMS[code]) for name, code in INSTRUMENT_CODES.items()}
    n_tokens = [
        len(TYPE_NAMES),
        max_beat + 2,
        RESOLUTION + 1,
        129,
        len(KNOWN_DURATIONS) + 1,
        len(INSTRUMENT_NAMES),
    ]
    return {
        "resolution": RESOLUTION,
        "max_beat": max_beat,
        "max_duration": MAX_DURATION,
        "dimensions": list(FIELDS),
        "n_tokens": n_tokens,
        "type_code_map": type_map,
        "beat_code_map": beat_map,
        "position_code_map": position_map,
        "pitch_code_map": pitch_map,
        "duration_code_map": duration_map,
        "instrument_code_map": instrument_map,
        "code_type_map": inverse(type_map),
        "code_beat_map": inverse(beat_map),
        "code_position_map": inverse(position_map),
        "code_pitch_map": inverse(pitch_map),
        "code_duration_map": {i + 1: int(d) for i, d in enumerate(KNOWN_DURATIONS)},
        "code_instrument_map": inverse(instrument_map),
        "program_instrument_map": program_map,
        "instrument_program_map": instrument_program_map,
    }

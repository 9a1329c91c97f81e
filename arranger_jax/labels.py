"""Part labels of the four Arranger datasets and the rules that map a track to a part (reference §1.1, §2).

A label is a part index 0..K-1 in the order of `PARTS[dataset]`; models store label+1 so that 0 can
mean padding. Every rule returns None for a track that carries no part (it is dropped).
"""

from __future__ import annotations

PARTS = {
    "bach": ("Soprano", "Alto", "Tenor", "Bass"),
    "musicnet": ("Violin 1", "Violin 2", "Viola", "Cello"),
    "nes": ("Pulse 1", "Pulse 2", "Triangle"),
    "lmd": ("Piano", "Guitar", "Bass", "Strings", "Brass"),
}
# The music21 string-quartet stand-in for MusicNet shares its parts.
PARTS["quartets"] = PARTS["musicnet"]

# 0-based General MIDI programs used when writing each part (reference §1.1).
PROGRAMS = {
    "bach": (73, 68, 70, 71),
    "musicnet": (40, 40, 41, 42),
    "quartets": (40, 40, 41, 42),
    "nes": (80, 81, 38),
    "lmd": (0, 24, 32, 48, 61),
}

# Whole-dataset share of the most common part is not what the paper prints; see reference §2.5.
DATASETS = tuple(PARTS)


def num_parts(dataset):
    return len(parts(dataset))


def parts(dataset):
    try:
        return PARTS[dataset]
    except KeyError:
        from music_codecs.errors import UserError

        raise UserError(f"unknown dataset {dataset!r}; choose one of {', '.join(DATASETS)}") from None


# --- Bach chorales: exact voice names, plus two files whose part names list the doubling instruments.
_BACH_SPECIAL = {
    "bwv171.6": {
        "Soprano\rOboe 1,2\rViolin1": 0,
        "Alto\rViloin 2": 1,
        "Tenor\rViola": 2,
        "Bass\rContinuo": 3,
    },
    "bwv41.6": {"Soprano Oboe 1 Violin1": 0, "Alto Oboe 2 Viloin 2": 1, "Tenor Viola": 2, "Bass Continuo": 3},
}


def bach_label(part_name, piece_name=""):
    """Soprano/alto/tenor/bass by exact (case-insensitive) name; anything else is dropped."""
    special = _BACH_SPECIAL.get(piece_name)
    if special is not None and part_name in special:
        return special[part_name]
    name = (part_name or "").strip().lower()
    for index, part in enumerate(PARTS["bach"]):
        if name == part.lower():
            return index
    return None


# --- MusicNet: substring tests on the MIDI track name, in the reference's order. "violino ii"
# contains "violino i", so such a name becomes Violin 1 (reproduced: reference §2.2).
_MUSICNET_RULES = (
    (("viola",), 2),
    (("cello",), 3),
    (("1st", "violin 1", "violin1", "violino i"), 0),
    (("2nd", "violin 2", "violin2", "violino ii"), 1),
)
V1, V2, VA, VC = 0, 1, 2, 3
# Five files whose tracks are mapped by order instead of name.
_MUSICNET_BY_ORDER = {
    "1931_dv96_2": (V1, V2, VA, VC, V1, V2, VA, VC),
    "1932_dv96_3": (V1, V2, VA, VC, VC),
    "1933_dv96_4": (V1, V2, VA, VC, VA, VC),
    "2138_br51n1m2": (V1, V2, V1, V2, VA, VC, VC, VC),
    "2140_br51n1m4": (V1, V2, VA, VC, VC),
}


def musicnet_label(track_name, piece_name="", track_index=0):
    order = _MUSICNET_BY_ORDER.get(piece_name)
    if order is not None:
        return order[track_index] if track_index < len(order) else None
    name = (track_name or "").lower()
    for keys, label in _MUSICNET_RULES:
        if any(key in name for key in keys):
            return label
    return None


def quartet_label(track_index, num_tracks):
    """music21 quartets: names vary too much, so the four parts are taken in score order."""
    return track_index if num_tracks == 4 and track_index < 4 else None


# --- NES-MDB: the noise channel "no" is dropped (its pitches are noise settings, not pitches).
_NES_NAMES = {"p1": 0, "p2": 1, "tr": 2}


def nes_label(track_name):
    return _NES_NAMES.get((track_name or "").strip().lower())


# --- Lakh MIDI: non-drum tracks merged into five families by 0-based GM program.
def lmd_label(program, is_drum=False):
    if is_drum:
        return None
    if 0 <= program <= 7:
        return 0
    if 24 <= program <= 31:
        return 1
    if 32 <= program <= 39:
        return 2
    if 40 <= program <= 45 or 48 <= program <= 51:
        return 3
    if 56 <= program <= 63:
        return 4
    return None

"""Which of the five LPD-5 tracks a part goes to (reference §1.1).

LPD-5 rule (MIDI files, LPD .npz files): drums -> drums; General MIDI programs 0-7 -> piano,
24-31 -> guitar, 32-39 -> bass, 40-51 -> strings; every other instrument also counts as strings.

Built-in corpus rule (music21's Bach chorales carry voices, not instruments): the part named
Soprano -> piano (the melody on the keyboard), Alto -> guitar, Tenor -> strings, Bass -> bass;
drums stay empty. A part whose name is no voice falls back to the LPD-5 rule.
"""

from __future__ import annotations

from musegan_jax.config import TRACKS

VOICES = {"soprano": "piano", "alto": "guitar", "tenor": "strings", "bass": "bass"}
PROGRAMS = {"drums": 0, "piano": 0, "guitar": 25, "bass": 33, "strings": 48}  # for writing MIDI


def lpd5_family(program: int, is_drum: bool) -> str:
    if is_drum:
        return "drums"
    program = int(program)
    if 0 <= program <= 7:
        return "piano"
    if 24 <= program <= 31:
        return "guitar"
    if 32 <= program <= 39:
        return "bass"
    return "strings"


def voice_family(name: str, program: int, is_drum: bool) -> str:
    words = name.lower().replace(".", " ").split()
    for word in words:
        if word in VOICES:
            return VOICES[word]
    return lpd5_family(program, is_drum)


def track_families(table, rule="lpd5"):
    """The family index (into TRACKS) of every track of a NoteTable."""
    out = []
    for index in range(table.num_tracks):
        picked = table.track == index
        program = int(table.program[picked][0]) if picked.any() else 0
        drum = bool(table.is_drum[picked][0]) if picked.any() else False
        name = table.track_names[index] if index < len(table.track_names) else ""
        family = voice_family(name, program, drum) if rule == "voices" else lpd5_family(program, drum)
        out.append(TRACKS.index(family))
    return out

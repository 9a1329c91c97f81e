"""Parts without a MIDI program get one from their names (music_codecs.musicxml_read), and
repeats are expanded as music21 expands them."""

import numpy as np
import pytest

from music_codecs.musicxml_read import PART_NAME_PROGRAMS, program_from_name, read_musicxml


def _score(parts, measures=1, repeat=False):
    """A MusicXML score: parts = [(part name, instrument name or None, 1-based MIDI program or
    None)], each with `measures` 4/4 measures of one whole note; with `repeat`, measures 1-2 are
    in repeat bars."""
    heads, bodies = [], []
    for i, (name, inst, program) in enumerate(parts, start=1):
        extra = (
            f"<score-instrument id='P{i}-I1'><instrument-name>{inst}</instrument-name></score-instrument>"
            if inst
            else ""
        )
        if program is not None:
            extra += f"<midi-instrument id='P{i}-I1'><midi-program>{program}</midi-program></midi-instrument>"
        heads.append(f"<score-part id='P{i}'><part-name>{name}</part-name>{extra}</score-part>")
        bars = []
        for m in range(1, measures + 1):
            attrs = (
                "<attributes><divisions>1</divisions><time><beats>4</beats><beat-type>4</beat-type></time></attributes>"
                if m == 1
                else ""
            )
            left = (
                "<barline location='left'><bar-style>heavy-light</bar-style><repeat direction='forward'/></barline>"
                if repeat and m == 1
                else ""
            )
            right = (
                "<barline location='right'><bar-style>light-heavy</bar-style><repeat direction='backward'/></barline>"
                if repeat and m == 2
                else ""
            )
            step = "CDEFGAB"[m % 7]
            bars.append(
                f"<measure number='{m}'>{attrs}{left}<note><pitch><step>{step}</step><octave>4</octave></pitch>"
                f"<duration>4</duration><type>whole</type></note>{right}</measure>"
            )
        bodies.append(f"<part id='P{i}'>{''.join(bars)}</part>")
    return (
        "<?xml version='1.0' encoding='UTF-8'?><score-partwise version='3.1'><part-list>"
        + "".join(heads)
        + "</part-list>"
        + "".join(bodies)
        + "</score-partwise>"
    )


def test_part_names_give_programs_and_sources(tmp_path):
    parts = [
        ("Violin I", None, None),  # strings by name
        ("Violoncello.", None, None),
        ("Soprano", "Instrument 1", None),  # a voice; the instrument name says nothing
        ("Flauto traverso", None, None),  # Italian
        ("Bass clarinet", None, None),  # not the voice "bass"
        ("MusicXML Part", "Tenor Sax", None),  # the instrument's name when the part's says nothing
        ("Mystery", "Zork", 44),  # music21's program (1-based 44 = contrabass, 43) comes first
        ("Zork", None, None),  # nothing known: piano, counted as a fallback
    ]
    path = tmp_path / "parts.musicxml"
    path.write_text(_score(parts))
    found = []
    table = read_musicxml(path, parts=found)
    assert [p for _, p, _ in found] == [40, 42, 52, 73, 71, 66, 43, 0]
    assert [s for _, _, s in found] == ["name"] * 6 + ["instrument", "fallback"]
    assert sorted(set(table.program.tolist())) == [0, 40, 42, 43, 52, 66, 71, 73]


@pytest.mark.parametrize(
    "name, program",
    [
        ("2nd Violin", 40),
        ("Viola", 41),
        ("Contrabass", 43),
        ("Violone e Organo", 43),
        ("English Horn", 69),
        ("Horn in F", 60),
        ("Tromba 1", 56),
        ("Fagotto", 70),
        ("Cembalo", 6),
        ("Basso continuo", 19),
        ("Pianoforte", 0),
        ("Timpani", 47),
        ("Cantus II", 52),
        ("Tenore", 52),
        ("B.", 52),
        ("Klarinette", 71),
        ("Gesang", 52),
        ("Drums", None),
    ],
)
def test_name_table(name, program):
    assert program_from_name(name) == program


def test_every_table_program_is_a_general_midi_program():
    assert all(0 <= p <= 127 for _, p in PART_NAME_PROGRAMS)


def test_repeats_expand_like_music21(tmp_path):
    import music21

    from music_codecs.musicxml_read import score_to_table

    path = tmp_path / "repeat.musicxml"
    path.write_text(_score([("Violin", None, None), ("Cello", None, None)], measures=3, repeat=True))
    table = read_musicxml(path, expand_repeats=True)
    # measures 1, 2, 1, 2, 3: five whole notes per part, at beats 0, 4, 8, 12, 16
    assert len(table) == 10
    assert sorted(set((table.onset // table.resolution).tolist())) == [0, 4, 8, 12, 16]
    theirs = score_to_table(music21.converter.parse(str(path)).expandRepeats(), path)
    for field in ("onset", "duration", "pitch", "track"):
        a, b = (np.sort(getattr(t, field)) for t in (table, theirs))
        np.testing.assert_array_equal(a, b)

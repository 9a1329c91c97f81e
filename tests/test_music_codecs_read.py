"""MusicXML and corpus reading, suffix dispatch, folder reading that skips bad files."""

import subprocess
import sys

import mido
import pytest

from music_codecs.errors import MusicFileError
from music_codecs.midi_write import write_midi
from music_codecs.musicxml_read import list_corpus, read_corpus_piece, read_musicxml
from music_codecs.note_table import NoteTable
from music_codecs.read import read_folder, read_music

# One 4/4 measure for a violin: a half note tied to a quarter, then a triplet of eighths
# (onsets 3, 3 1/3, 3 2/3 quarters), at 90 quarters per minute.
TINY_XML = """<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE score-partwise PUBLIC "-//Recordare//DTD MusicXML 3.1 Partwise//EN"
  "http://www.musicxml.org/dtds/partwise.dtd">
<score-partwise version="3.1">
  <part-list><score-part id="P1"><part-name>Violin</part-name>
    <score-instrument id="P1-I1"><instrument-name>Violin</instrument-name></score-instrument>
    <midi-instrument id="P1-I1"><midi-channel>1</midi-channel><midi-program>41</midi-program></midi-instrument>
  </score-part></part-list>
  <part id="P1"><measure number="1">
    <attributes><divisions>6</divisions><time><beats>4</beats><beat-type>4</beat-type></time></attributes>
    <direction><sound tempo="90"/><direction-type><metronome><beat-unit>quarter</beat-unit>
      <per-minute>90</per-minute></metronome></direction-type></direction>
    <note><pitch><step>C</step><octave>4</octave></pitch><duration>12</duration><tie type="start"/>
      <type>half</type><notations><tied type="start"/></notations></note>
    <note><pitch><step>C</step><octave>4</octave></pitch><duration>6</duration><tie type="stop"/>
      <type>quarter</type><notations><tied type="stop"/></notations></note>
    <note><pitch><step>E</step><octave>4</octave></pitch><duration>2</duration><type>eighth</type>
      <time-modification><actual-notes>3</actual-notes><normal-notes>2</normal-notes></time-modification></note>
    <note><pitch><step>G</step><octave>4</octave></pitch><duration>2</duration><type>eighth</type>
      <time-modification><actual-notes>3</actual-notes><normal-notes>2</normal-notes></time-modification></note>
    <note><pitch><step>C</step><octave>5</octave></pitch><duration>2</duration><type>eighth</type>
      <time-modification><actual-notes>3</actual-notes><normal-notes>2</normal-notes></time-modification></note>
  </measure></part>
</score-partwise>
"""


def test_tiny_musicxml_ties_merged_and_triplets_exact(tmp_path):
    path = tmp_path / "tiny.musicxml"
    path.write_text(TINY_XML)
    table = read_musicxml(path)
    assert table.resolution == 12  # thirds of an eighth fit 12 per quarter
    assert table.onset.tolist() == [0, 36, 40, 44]
    assert table.duration.tolist() == [36, 4, 4, 4]  # the tie made one dotted half
    assert table.pitch.tolist() == [60, 64, 67, 72]
    assert set(table.program.tolist()) == {40} and not table.is_drum.any()
    assert table.track_names == ("Violin",)
    assert table.tempo_tick.tolist() == [0] and table.tempo_qpm.tolist() == [90.0]
    assert table.time_signatures.tolist() == [[0, 4, 4]]
    assert read_music(path).equals(table)


def test_corpus_chorale():
    table = read_corpus_piece("bach/bwv66.6")
    assert table.num_tracks == 4 and table.track_names == ("Soprano", "Alto", "Tenor", "Bass")
    assert len(table) > 100 and table.resolution % 12 == 0
    # every voice sings within its range
    assert table.pitch[table.track == 0].min() > table.pitch[table.track == 3].min()
    paths = list_corpus("bach")
    assert len(paths) > 100 and all(p.endswith((".mxl", ".xml", ".musicxml")) for p in paths)
    with pytest.raises(MusicFileError, match="not in the music21 corpus"):
        read_corpus_piece("nobody/nothing-at-all-here")


def test_bad_musicxml(tmp_path):
    bad = tmp_path / "bad.xml"
    bad.write_text("<score-partwise><part")
    with pytest.raises(MusicFileError, match="bad.xml"):
        read_musicxml(bad)
    with pytest.raises(MusicFileError, match="unsupported file type"):
        read_music(tmp_path / "notes.txt")


def test_read_folder_skips_and_names_bad_files(tmp_path):
    good = NoteTable(96, [0, 96], [96, 48], [60, 64], [90, 90], [0, 0], [False, False], [0, 0])
    write_midi(good, tmp_path / "good.mid")
    (tmp_path / "sub").mkdir()
    write_midi(good, tmp_path / "sub" / "also_good.MID")
    (tmp_path / "corrupt.mid").write_bytes(
        b"MThd\x00\x00\x00\x06\x00\x01\x00\x01\x00\x60MTrk\x00\x00\x00\x09\x00\x90"
    )
    midi = mido.MidiFile(type=2)
    midi.tracks.append(mido.MidiTrack([mido.Message("note_on", note=60, velocity=9)]))
    midi.save(tmp_path / "type2.mid")
    empty = mido.MidiFile()
    empty.tracks.append(mido.MidiTrack())
    empty.save(tmp_path / "empty.mid")
    (tmp_path / "bad.xml").write_text("not xml")
    (tmp_path / "readme.txt").write_text("ignored: not a music file")

    reader = read_folder(tmp_path)
    good_files = dict(reader)
    assert sorted(p.split("/")[-1] for p in good_files) == ["also_good.MID", "good.mid"]
    assert all(t.equals(good) for t in good_files.values())
    reasons = {p.split("/")[-1]: r for p, r in reader.skipped}
    assert set(reasons) == {"corrupt.mid", "type2.mid", "empty.mid", "bad.xml"}
    assert "type 2" in reasons["type2.mid"] and reasons["empty.mid"] == "no notes"
    assert "truncated" in reasons["corrupt.mid"]
    assert reader.summary().startswith("skipped 4 of 6 files")
    assert len(dict(read_folder(tmp_path, recursive=False))) == 1


def test_music_codecs_modules_do_not_import_jax():
    modules = [
        "midi_read",
        "midi_write",
        "musicxml_read",
        "read",
        "quantize",
        "metrics",
        "pianoroll",
        "render",
        "demo",
    ]
    code = (
        "import sys\n"
        + "".join(f"import music_codecs.{m}\n" for m in modules)
        + "assert 'jax' not in sys.modules, 'jax imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)

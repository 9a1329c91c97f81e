"""arranger_jax's Python API on the shipped models: the docstring examples, and the arrangement
of a held-out chorale scored against Bach's own voices."""

import numpy as np
import pytest
from doc_examples import run_examples

import arranger_jax

HELD_OUT = "bach/bwv117.4"  # in the test split of `arranger-jax prepare bach` (seed 0)


@pytest.fixture(scope="module")
def chorale():
    from music_codecs.musicxml_read import read_corpus_piece

    return read_corpus_piece(HELD_OUT)


def test_docstring_examples():
    import arranger_jax.api

    run_examples(arranger_jax.api, minimum=6)


def _accuracy(arranged, original):
    """Share of notes put in the voice Bach wrote them in (notes two voices share are left out)."""
    scale = arranged.table.resolution / original.resolution
    voices = {}
    for onset, pitch, track in zip(np.round(original.onset * scale), original.pitch, original.track):
        voices.setdefault((int(onset), int(pitch)), set()).add(int(track))
    hits = [
        voices[key] == {int(t)}
        for key, t in zip(
            zip(arranged.table.onset.tolist(), arranged.table.pitch.tolist()), arranged.table.track
        )
        if len(voices.get(key, ())) == 1
    ]
    return np.mean(hits), len(hits)


@pytest.mark.parametrize("name", ["bach-lstm", "bach-bilstm"])
def test_a_held_out_chorale_is_arranged_mostly_as_bach_did(name, chorale, tmp_path):
    from music_codecs.midi_write import write_midi

    model = arranger_jax.load(name)
    solo = chorale.replace(track=chorale.track * 0, program=chorale.program * 0, track_names=("Piano",))
    arranged = model.instrument(solo)
    assert arranged.table.track_names == model.parts
    accuracy, notes = _accuracy(arranged, chorale)
    assert notes > 0.9 * len(chorale) - 20
    assert accuracy > 0.75, f"{name}: {accuracy:.2f} of {notes} notes"
    # A path gives what the table gives.
    path = write_midi(solo, tmp_path / "solo.mid")
    again = model.instrument(path)
    assert np.array_equal(again.table.track, arranged.table.track)

"""Arranger from Python: load a part-separation model and instrument a solo piece.

    >>> import arranger_jax
    >>> model = arranger_jax.load("bach-bilstm")       # shipped; or a run folder's path
    >>> model.parts
    ('Soprano', 'Alto', 'Tenor', 'Bass')
    >>> from music_codecs.musicxml_read import read_corpus_piece
    >>> chorale = read_corpus_piece("bach/bwv117.4")   # any NoteTable, Music, or a MIDI/MusicXML path
    >>> arranged = model.instrument(chorale)
    >>> arranged.table.num_tracks, len(arranged) == arranged.info["notes"]
    (4, True)
    >>> sum(arranged.info["part_counts"].values()) == arranged.info["notes"]
    True
    >>> import tempfile, pathlib
    >>> files = arranged.save(pathlib.Path(tempfile.mkdtemp()) / "bwv117.4")   # .mid .wav .png
    >>> sorted(files)
    ['midi', 'png', 'renderer', 'wav']

The input's tracks are merged into one stream of notes (drums kept aside), every note gets a
part from one pass of the model, and the result is a `music_codecs.music.Music` with one track
per part (named and programmed as the dataset's parts), its piano roll coloured by part.
`arranger_jax.load("bach-lstm")` is the online LSTM, whose label for a note depends only on
the notes before it (the command line's `instrument --stream` plays it one note at a time).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

PACKAGE = "arranger_jax"


class Arranger:
    """A loaded Arranger (`trained`: arranger_jax.load.Trained; `card`: a shipped model's card)."""

    def __init__(self, trained):
        from train_kit.pretrained import model_card

        self.trained, self.path = trained, Path(trained.path)
        self.card = model_card(self.path)

    def __repr__(self):
        return f"Arranger({self.path.name}: {self.name} on {self.trained.dataset}, {self.num_parameters:,} parameters)"

    @property
    def name(self) -> str:
        """The reference's name of the architecture, e.g. lstm/bidirectional_embedding."""
        return self.trained.config.model.name

    @property
    def parts(self) -> tuple:
        from arranger_jax import labels

        return tuple(labels.parts(self.trained.dataset))

    @property
    def num_parameters(self) -> int:
        from train_kit.pretrained import count_parameters

        return count_parameters(self.trained.params)

    def instrument(self, piece, title=None):
        """The piece (a MIDI/MusicXML path, a NoteTable or a Music) arranged for the model's
        parts: a Music whose info has "notes" and "part_counts" {part: notes}."""
        from arranger_jax import instrument
        from music_codecs.music import Music
        from music_codecs.read import read_music

        if isinstance(piece, (str, Path)):
            name, table = Path(piece).stem, read_music(piece)
        else:
            table = getattr(piece, "table", piece)
            name = getattr(piece, "title", "") or "input"
        notes, drums = instrument.downmix(table, name)
        parts = instrument.label_parts(self.trained, notes)
        arranged = instrument.arranged_table(notes, parts, self.trained.dataset, table, drums)
        counts = np.bincount(parts, minlength=len(self.parts))
        info = {
            "notes": int(len(notes)),
            "part_counts": {p: int(c) for p, c in zip(self.parts, counts)},
            "model": self.name,
        }
        return Music(arranged, title or f"{name} arranged by {self.path.name}", info=info)


def load(name_or_dir="bach-bilstm") -> Arranger:
    """An Arranger from a run folder, or by the name of a model shipped in
    arranger_jax/pretrained/ (`arranger_jax.pretrained()` lists them)."""
    from arranger_jax.load import load as load_run
    from train_kit.pretrained import resolve

    return Arranger(load_run(resolve(name_or_dir, PACKAGE)))


def pretrained() -> list[str]:
    """The names of the models that ship with arranger_jax."""
    from train_kit.pretrained import available

    return available(PACKAGE)

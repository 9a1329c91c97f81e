"""A generated piece as the Python APIs return it: a note table that writes itself as files.

    music = Music(table, title="unconditional, seed 0")
    music.to_midi("a.mid"); music.to_wav("a.wav"); music.to_png("a.png")
    music.save("out/a")        # a.mid + a.wav + a.png; returns {"midi": ..., "wav": ..., ...}
    music.renderer             # "fluidsynth" or "sine" once a WAV has been written

`info` carries what the system knows about the piece (e.g. MMT's event codes, an arrangement's
part counts); `marks` {beat: label} are drawn on the piano roll (where a prompt ends).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from music_codecs.note_table import NoteTable


@dataclasses.dataclass
class Music:
    table: NoteTable
    title: str = ""
    marks: dict | None = None
    info: dict = dataclasses.field(default_factory=dict)
    renderer: str | None = None  # set by to_wav

    def __len__(self):
        return len(self.table)

    def __repr__(self):
        return f"Music({self.title!r}: {self.table!r})"

    def to_midi(self, path) -> str:
        from music_codecs.midi_write import write_midi

        return write_midi(self.table, path)

    def to_wav(self, path, renderer="auto", sample_rate=22050) -> str:
        """Render with FluidSynth where installed, else sine tones (`self.renderer` says which)."""
        from music_codecs.render import render_wav

        self.renderer = render_wav(self.table, path, sample_rate=sample_rate, renderer=renderer)
        return str(path)

    def to_png(self, path, title=None) -> str:
        from music_codecs.pianoroll import save_pianoroll_png

        return save_pianoroll_png(
            self.table, path, title=title or self.title or Path(path).stem, marks=self.marks
        )

    def save(self, stem, renderer="auto", wav=True) -> dict:
        """stem.mid, stem.png and (unless wav=False) stem.wav; {"midi", "png", "wav", "renderer"}."""
        stem = Path(stem)
        stem.parent.mkdir(parents=True, exist_ok=True)
        name = stem.name  # "bwv117.4" is a name, not a name and a suffix
        out = {
            "midi": self.to_midi(stem.with_name(f"{name}.mid")),
            "png": self.to_png(stem.with_name(f"{name}.png")),
        }
        if wav:
            out["wav"] = self.to_wav(stem.with_name(f"{name}.wav"), renderer)
            out["renderer"] = self.renderer
        return out

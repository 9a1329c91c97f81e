"""One entry point for music files, and a folder reader that skips bad files instead of dying."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from music_codecs.errors import MusicFileError
from music_codecs.musicxml_read import MUSICXML_SUFFIXES
from music_codecs.note_table import NoteTable

MIDI_SUFFIXES = (".mid", ".midi")
SUFFIXES = MIDI_SUFFIXES + MUSICXML_SUFFIXES


def read_music(path, backend="symusic", expand_repeats=False) -> NoteTable:
    """Read a MIDI (`backend` picks the parser) or MusicXML file by its suffix."""
    suffix = Path(path).suffix.lower()
    if suffix in MIDI_SUFFIXES:
        from music_codecs.midi_read import read_midi

        return read_midi(path, backend=backend)
    if suffix in MUSICXML_SUFFIXES:
        from music_codecs.musicxml_read import read_musicxml

        return read_musicxml(path, expand_repeats=expand_repeats)
    raise MusicFileError(
        path, f"unsupported file type {suffix or '(none)'!r}; expected one of {', '.join(SUFFIXES)}"
    )


def music_files(folder, recursive=True):
    """The music files under `folder`, sorted."""
    folder = Path(folder)
    if not folder.is_dir():
        raise MusicFileError(folder, "not a folder")
    pattern = "**/*" if recursive else "*"
    return sorted(p for p in folder.glob(pattern) if p.is_file() and p.suffix.lower() in SUFFIXES)


@dataclasses.dataclass
class FolderReader:
    """Iterate (path, table) over the good files of a folder; `skipped` collects (path, reason).

    Any failure on one file (a MusicFileError, or an unexpected error from a parser) is
    recorded and the next file is read; `skipped` is complete once the iteration has ended.
    """

    paths: list
    backend: str = "symusic"
    expand_repeats: bool = False
    progress: bool = False
    skipped: list = dataclasses.field(default_factory=list)

    def __iter__(self):
        self.skipped = []
        paths = self.paths
        if self.progress:
            from tqdm import tqdm

            paths = tqdm(paths, desc="reading", unit="file")
        for path in paths:
            try:
                table = read_music(path, backend=self.backend, expand_repeats=self.expand_repeats)
            except MusicFileError as err:
                self.skipped.append((str(path), err.reason))
            except Exception as err:  # noqa: BLE001 - a batch job must survive any one file
                self.skipped.append((str(path), f"{type(err).__name__}: {err}"))
            else:
                yield str(path), table

    def __len__(self):
        return len(self.paths)

    def summary(self):
        """One line per skipped file, after a count."""
        lines = [f"skipped {len(self.skipped)} of {len(self.paths)} files"]
        lines += [f"  {path}: {reason}" for path, reason in self.skipped]
        return "\n".join(lines)


def read_folder(folder, backend="symusic", expand_repeats=False, recursive=True, progress=False):
    """A FolderReader over every .mid/.midi/.xml/.mxl/.musicxml file under `folder`."""
    return FolderReader(music_files(folder, recursive), backend, expand_repeats, progress)

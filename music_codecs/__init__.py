"""Plain-NumPy music layer shared by every system: files <-> note tables <-> arrays.

Importing this package never imports JAX.
"""

from music_codecs.errors import MusicFileError, UserError
from music_codecs.midi_read import read_midi
from music_codecs.midi_write import write_midi
from music_codecs.note_table import NoteTable
from music_codecs.quantize import adjust_resolution, fix_zero_durations, remove_duplicates, trim
from music_codecs.read import read_folder, read_music

__all__ = [
    "MusicFileError",
    "NoteTable",
    "UserError",
    "adjust_resolution",
    "fix_zero_durations",
    "read_folder",
    "read_midi",
    "read_music",
    "remove_duplicates",
    "trim",
    "write_midi",
]

"""Plain-NumPy music layer shared by every system: files <-> note tables <-> arrays.

Importing this package never imports JAX.
"""
from music_codecs.errors import MusicFileError, UserError
from music_codecs.note_table import NoteTable

__all__ = ["MusicFileError", "NoteTable", "UserError"]

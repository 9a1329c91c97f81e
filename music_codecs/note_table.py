"""The note table: every note of a piece as parallel NumPy arrays, in ticks.

Symbolic data never goes through seconds: onsets and durations are integer ticks at
`resolution` ticks per quarter note, and tempo and time-signature events ride alongside.
Notes are ordered by track, then within a track by (onset, pitch, duration, velocity), the
order the MMT reference's MIDI reader leaves them in.
"""

from __future__ import annotations

import dataclasses

import numpy as np

NOTE_FIELDS = ("onset", "duration", "pitch", "velocity", "program", "is_drum", "track")


def _ints(values, dtype=np.int64):
    return np.asarray(values, dtype=dtype).reshape(-1)


@dataclasses.dataclass(eq=False)
class NoteTable:
    resolution: int
    onset: np.ndarray
    duration: np.ndarray
    pitch: np.ndarray
    velocity: np.ndarray
    program: np.ndarray
    is_drum: np.ndarray
    track: np.ndarray
    # Tempo events: tick and quarter notes per minute.
    tempo_tick: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(0, np.int64))
    tempo_qpm: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(0, np.float64))
    # Time signatures as rows (tick, numerator, denominator).
    time_signatures: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros((0, 3), np.int64))
    # One name per track index (may be empty strings).
    track_names: tuple = ()

    def __post_init__(self):
        self.resolution = int(self.resolution)
        if self.resolution <= 0:
            raise ValueError(f"resolution must be positive, got {self.resolution}")
        for name in ("onset", "duration", "pitch", "velocity", "program", "track"):
            setattr(self, name, _ints(getattr(self, name)))
        self.is_drum = _ints(self.is_drum, bool)
        n = len(self.onset)
        for name in NOTE_FIELDS:
            if len(getattr(self, name)) != n:
                raise ValueError(f"field {name!r} has {len(getattr(self, name))} notes, expected {n}")
        self.tempo_tick = _ints(self.tempo_tick)
        self.tempo_qpm = np.asarray(self.tempo_qpm, np.float64).reshape(-1)
        self.time_signatures = np.asarray(self.time_signatures, np.int64).reshape(-1, 3)
        self.track_names = tuple(self.track_names)

    def __len__(self):
        return len(self.onset)

    @property
    def num_tracks(self):
        n = int(self.track.max()) + 1 if len(self) else 0
        return max(n, len(self.track_names))

    @property
    def end(self):
        """The tick at which the last note ends (0 for an empty table)."""
        return int((self.onset + self.duration).max()) if len(self) else 0

    def notes(self):
        """The notes as an [N, 7] int64 array in NOTE_FIELDS order."""
        return np.stack([getattr(self, f).astype(np.int64) for f in NOTE_FIELDS], axis=1).reshape(-1, 7)

    def select(self, index):
        """A table holding only the notes picked by a boolean mask or an index array."""
        fields = {f: getattr(self, f)[index] for f in NOTE_FIELDS}
        return dataclasses.replace(self, **fields)

    def replace(self, **changes):
        return dataclasses.replace(self, **changes)

    def sorted(self):
        """Notes ordered by (track, onset, pitch, duration, velocity)."""
        order = np.lexsort((self.velocity, self.duration, self.pitch, self.onset, self.track))
        return self.select(order)

    def equals(self, other, check_meta=True):
        """Exact equality of notes (and, optionally, resolution, tempos and time signatures)."""
        same = len(self) == len(other) and all(
            np.array_equal(getattr(self, f), getattr(other, f)) for f in NOTE_FIELDS
        )
        if check_meta:
            same = same and self.resolution == other.resolution
            same = same and np.array_equal(self.tempo_tick, other.tempo_tick)
            same = same and np.allclose(self.tempo_qpm, other.tempo_qpm)
            same = same and np.array_equal(self.time_signatures, other.time_signatures)
        return bool(same)

    @classmethod
    def empty(cls, resolution=480):
        z = np.zeros(0, np.int64)
        return cls(resolution, z, z, z, z, z, z.astype(bool), z)

    @classmethod
    def from_notes(cls, notes, resolution, **meta):
        """Build from an [N, 7] array in NOTE_FIELDS order."""
        notes = np.asarray(notes, np.int64).reshape(-1, 7)
        return cls(resolution, *(notes[:, i] for i in range(7)), **meta)

    def __repr__(self):
        return (
            f"NoteTable({len(self)} notes, {self.num_tracks} tracks, "
            f"resolution={self.resolution}, end={self.end})"
        )

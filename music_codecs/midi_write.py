"""Write a NoteTable to a type-1 MIDI file, tick for tick.

Written with mido, the MIDI layer of pretty_midi: pretty_midi itself keeps times in seconds,
truncates tempos to whole microseconds per quarter through a float round trip, and puts a
note-off before a note-on at the same tick, so a zero-length note would come back as a note
that never closes. Here every time is the table's own tick at its own resolution.

Layout (what pretty_midi writes too): track 0 holds tempos and time signatures; then one MIDI
track per table track with its name, a program change at tick 0 and its notes, on channel 9
for drums and otherwise on the 15 other channels in turn.

Reading the file back with `read_midi` gives the same table whenever that table can exist in
MIDI under first-in-first-out pairing: within a track and pitch, the notes sorted by onset
end in non-decreasing order (a same-pitch note nested inside a longer one would be re-paired),
velocities are 1..127 (velocity 0 means note-off; 0 is written as 1), no track is empty, and
names are printable ASCII. Tempos are stored as whole microseconds per quarter note; time
signatures whose denominator is not a power of two cannot be stored and are left out.

Limits: a table that no MIDI file (or not our reader) can hold raises MusicFileError naming the
file before anything is written: ticks per quarter outside 1..32767, negative times, pitches or
programs outside 0..127, more than MAX_NOTES notes or 65534 tracks, or an end past
MAX_QUARTERS quarter notes (which also keeps every delta time inside MIDI's 28 bits). The file
is written atomically: a failed write leaves the old file (or none).
"""

from __future__ import annotations

import mido
import numpy as np

from music_codecs.atomic import atomic_file
from music_codecs.errors import MusicFileError
from music_codecs.midi_read import MAX_NOTES, MAX_QUARTERS
from music_codecs.note_table import NoteTable

MAX_DELTA = 0x0FFFFFFF  # a variable-length quantity holds 28 bits
MAX_TRACKS = 0xFFFF - 1  # the header's 16-bit count, less the conductor track

_CHANNELS = [c for c in range(16) if c != 9]


def write_midi(table: NoteTable, path) -> str:
    """Write `table` to `path` (a .mid file) and return the path as a string."""
    check_limits(table, path)
    midi = mido.MidiFile(type=1, ticks_per_beat=table.resolution)
    conductor = [
        (int(t), 0, mido.MetaMessage("set_tempo", tempo=_tempo(q)))
        for t, q in zip(table.tempo_tick, table.tempo_qpm)
    ]
    conductor += [
        (int(t), 1, mido.MetaMessage("time_signature", numerator=int(n), denominator=int(d)))
        for t, n, d in table.time_signatures
        if 0 < n < 256 and d > 0 and d & (d - 1) == 0
    ]
    midi.tracks.append(_track(sorted(conductor, key=lambda e: e[:2])))
    names = table.track_names
    for index in range(table.num_tracks):
        notes = table.select(table.track == index)
        drum = bool(notes.is_drum[0]) if len(notes) else False
        channel = 9 if drum else _CHANNELS[index % len(_CHANNELS)]
        program = int(notes.program[0]) if len(notes) else 0
        name = names[index] if index < len(names) else ""
        name = name.encode("latin-1", "replace").decode("latin-1")  # what a MIDI text event holds
        events = [
            (0, -2, 0, mido.MetaMessage("track_name", name=name)),
            (0, -1, 0, mido.Message("program_change", channel=channel, program=program)),
        ]
        events += _note_events(notes, channel)
        midi.tracks.append(_track(sorted(events, key=lambda e: e[:3])))
    with atomic_file(path) as f:
        midi.save(file=f)
    return str(path)


def check_limits(table: NoteTable, path="<table>") -> None:
    """MusicFileError if `table` cannot be written as a MIDI file that `read_midi` accepts."""

    def refuse(reason):
        raise MusicFileError(path, f"cannot write MIDI: {reason}")

    if not 1 <= table.resolution <= 0x7FFF:
        refuse(f"{table.resolution} ticks per quarter note (MIDI holds 1..32767)")
    if len(table) > MAX_NOTES:
        refuse(f"{len(table)} notes (the limit is {MAX_NOTES})")
    if table.num_tracks > MAX_TRACKS:
        refuse(f"{table.num_tracks} tracks (MIDI holds {MAX_TRACKS})")
    for name, low, high in (("pitch", 0, 127), ("program", 0, 127)):
        values = getattr(table, name)
        if len(values) and (values.min() < low or values.max() > high):
            refuse(f"a {name} outside {low}..{high}")
    times = [table.onset, table.duration, table.tempo_tick, table.time_signatures[:, 0]]
    if any(len(t) and t.min() < 0 for t in times):
        refuse("a negative time or duration")
    if len(table.tempo_qpm) and not (np.isfinite(table.tempo_qpm).all() and (table.tempo_qpm > 0).all()):
        refuse("a tempo that is not a positive number")
    ends = [table.onset + table.duration, table.tempo_tick, table.time_signatures[:, 0]]
    end = max((int(e.max()) for e in ends if len(e)), default=0)
    limit = min(MAX_QUARTERS * table.resolution, MAX_DELTA)
    if end > limit:
        refuse(
            f"ends at tick {end}, {end // table.resolution} quarter notes "
            f"(the limit is {limit} ticks, {limit // table.resolution} quarter notes)"
        )


def _tempo(qpm):
    return int(np.clip(round(60_000_000 / max(float(qpm), 1e-3)), 1, 0xFFFFFF))


def _note_events(notes, channel):
    """(tick, phase, order, message): at one tick, first the offs of sounding notes (earliest
    onset first, the note FIFO closes), then the ons (shortest first), then the offs of
    zero-length notes, so every off closes the note it belongs to."""
    events = []
    for onset, duration, pitch, velocity in zip(
        notes.onset.tolist(), notes.duration.tolist(), notes.pitch.tolist(), notes.velocity.tolist()
    ):
        end = onset + duration
        velocity = min(max(velocity, 1), 127)
        events.append(
            (onset, 1, end, mido.Message("note_on", channel=channel, note=pitch, velocity=velocity))
        )
        events.append(
            (
                end,
                0 if duration > 0 else 2,
                onset,
                mido.Message("note_off", channel=channel, note=pitch, velocity=0),
            )
        )
    return events


def _track(events):
    track, last = mido.MidiTrack(), 0
    for tick, *_, message in events:
        track.append(message.copy(time=tick - last))
        last = tick
    track.append(mido.MetaMessage("end_of_track", time=0))
    return track

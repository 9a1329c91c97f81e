"""Piano rolls: note tables as [track, time, pitch] arrays and as pictures."""

from __future__ import annotations

import numpy as np

from music_codecs.note_table import NoteTable


def to_pianoroll(table: NoteTable, resolution=None) -> np.ndarray:
    """Boolean array [tracks, time steps, 128]: True where a note of that track sounds.

    Time steps are ticks at `resolution` per quarter (default: the table's own; another value
    re-grids with the MMT rounding first). A note covers [onset, onset + duration), so
    zero-length notes leave no mark and repeated notes of one pitch merge.
    """
    if resolution is not None and int(resolution) != table.resolution:
        from music_codecs.quantize import adjust_resolution

        table = adjust_resolution(table, resolution)
    roll = np.zeros((table.num_tracks, table.end + 1, 128), np.int32)
    np.add.at(roll, (table.track, table.onset, table.pitch), 1)
    np.add.at(roll, (table.track, table.onset + table.duration, table.pitch), -1)
    return np.cumsum(roll, axis=1)[:, :-1] > 0


def track_label(program: int, is_drum: bool, name: str = "") -> str:
    """'Name (General MIDI instrument)', or the instrument alone."""
    import pretty_midi

    instrument = "Drums" if is_drum else pretty_midi.program_to_instrument_name(int(program))
    return f"{name} ({instrument})" if name and name != instrument else instrument


def save_pianoroll_png(table: NoteTable, path, title=None, dpi=120, marks=None) -> str:
    """Draw every note as a bar: one colour per track with a legend of instruments, x in beats,
    y in pitch names; marks {beat: label} draws a labelled vertical line at each beat (e.g.
    where a prompt ends). Returns the path."""
    import matplotlib
    import pretty_midi
    from matplotlib.collections import PolyCollection
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    # A bare Figure renders with Agg and leaves pyplot's global state alone.
    fig = Figure(figsize=(12, 5))
    ax = fig.add_subplot()
    colours = matplotlib.colormaps["tab10" if table.num_tracks <= 10 else "tab20"]
    handles = []
    for index in range(table.num_tracks):
        notes = table.select(table.track == index)
        if not len(notes):
            continue
        x0 = notes.onset / table.resolution
        x1 = x0 + np.maximum(notes.duration, 1) / table.resolution
        y0, y1 = notes.pitch - 0.4, notes.pitch + 0.4
        boxes = np.stack(
            [np.stack([x0, y0], -1), np.stack([x1, y0], -1), np.stack([x1, y1], -1), np.stack([x0, y1], -1)],
            axis=1,
        )
        colour = colours(index % colours.N)
        ax.add_collection(PolyCollection(boxes, facecolors=colour, edgecolors="none", alpha=0.85))
        name = table.track_names[index] if index < len(table.track_names) else ""
        handles.append(Patch(color=colour, label=track_label(notes.program[0], notes.is_drum[0], name)))
    if len(table):
        low, high = int(table.pitch.min()) - 1, int(table.pitch.max()) + 1
        ax.set_xlim(0, max(table.end, 1) / table.resolution)
        ax.set_ylim(low - 0.5, high + 0.5)
        ticks = [p for p in range(low, high + 1) if p % 12 == 0] or [low, high]
        if high - low <= 24:
            ticks = [p for p in range(low, high + 1) if p % 12 in (0, 4, 7)]
        ax.set_yticks(ticks, [pretty_midi.note_number_to_name(p) for p in ticks])
    for beat, label in (marks or {}).items():
        ax.axvline(beat, color="black", linestyle="--", linewidth=1.2)
        ax.annotate(
            label,
            (beat, 1),
            xycoords=("data", "axes fraction"),
            xytext=(3, -12),
            textcoords="offset points",
            fontsize="small",
        )
    ax.set_xlabel(f"beats (quarter notes; {table.resolution} ticks each)")
    ax.set_ylabel("pitch")
    ax.grid(axis="x", alpha=0.3)
    if handles:
        ax.legend(handles=handles, loc="upper right", fontsize="small", framealpha=0.8)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    from music_codecs.atomic import atomic_path

    with atomic_path(path) as tmp:  # a full disk mid-write leaves the old picture
        fig.savefig(tmp, dpi=dpi)
    return str(path)

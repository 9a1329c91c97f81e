"""Notes per second of the two MIDI readers on one folder: the pretty_midi path (mido messages and
the rule in Python, the baseline) against the symusic path (C++ parsing plus the patch).

    python benchmarks/read_midi.py                      # generated files in a temp folder
    python benchmarks/read_midi.py --folder /work/shared/data/midi --json /tmp/read_midi.json

Both readers must give identical tables; the script checks that on every file it times.
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

import numpy as np


def make_folder(folder, n_files=20, n_notes=4000, seed=0):
    """Write random multitrack pieces (drums, several programs, tempo changes)."""
    from music_codecs.midi_write import write_midi
    from music_codecs.note_table import NoteTable

    rng = np.random.default_rng(seed)
    for i in range(n_files):
        n_tracks = int(rng.integers(2, 9))
        track = rng.integers(0, n_tracks, n_notes)
        onset = np.sort(rng.integers(0, 480 * 2000, n_notes))
        table = NoteTable(
            480,
            onset,
            rng.integers(1, 960, n_notes),
            rng.integers(21, 109, n_notes),
            rng.integers(1, 128, n_notes),
            (track * 13) % 128,
            track == 0,
            track,
            tempo_tick=[0, 480 * 100],
            tempo_qpm=[120.0, 90.0],
            time_signatures=[[0, 4, 4]],
            track_names=tuple(f"t{k}" for k in range(n_tracks)),
        )
        write_midi(table.sorted(), Path(folder) / f"piece{i:03d}.mid")
    return folder


def time_backend(paths, backend, repeats):
    from music_codecs.errors import MusicFileError
    from music_codecs.midi_read import read_midi

    best, tables = float("inf"), {}
    for _ in range(repeats):
        start = time.perf_counter()
        for path in paths:
            try:
                tables[path] = read_midi(path, backend=backend)
            except MusicFileError as err:
                tables[path] = err.reason
        best = min(best, time.perf_counter() - start)
    return best, tables


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", help="folder of .mid files (default: generated ones)")
    parser.add_argument("--files", type=int, default=20, help="generated files")
    parser.add_argument("--repeats", type=int, default=3, help="best of this many passes")
    parser.add_argument("--json", default="/tmp/read_midi.json", help="where to write the results")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(args.folder) if args.folder else make_folder(tmp, args.files)
        paths = sorted(str(p) for p in Path(folder).rglob("*") if p.suffix.lower() in (".mid", ".midi"))
        results = {}
        for backend in ("pretty_midi", "symusic"):
            seconds, tables = time_backend(paths, backend, args.repeats)
            results[backend] = (seconds, tables)

    base_tables, fast_tables = results["pretty_midi"][1], results["symusic"][1]
    good = [p for p in paths if not isinstance(base_tables[p], str)]
    notes = sum(len(base_tables[p]) for p in good)
    disagree = [p for p in paths if not _same(base_tables[p], fast_tables[p])]
    rows = []
    for backend in ("pretty_midi", "symusic"):
        seconds = results[backend][0]
        rows.append(
            {
                "backend": backend,
                "files": len(paths),
                "notes": notes,
                "seconds": seconds,
                "notes_per_second": notes / seconds,
            }
        )
    speedup = rows[0]["seconds"] / rows[1]["seconds"]

    print(f"{'backend':<24}{'files':>7}{'notes':>10}{'seconds':>10}{'notes/s':>14}")
    for row, label in zip(rows, ("pretty_midi (mido), base", "symusic")):
        print(
            f"{label:<24}{row['files']:>7}{row['notes']:>10}{row['seconds']:>10.3f}"
            f"{row['notes_per_second']:>14,.0f}"
        )
    print(
        f"symusic path is {speedup:.1f}x faster; tables identical on "
        f"{len(paths) - len(disagree)} of {len(paths)} files (skipped as bad: "
        f"{len(paths) - len(good)})"
    )
    for path in disagree:
        print(f"  DIFFERENT: {path}")
    report = {
        "folder": str(args.folder or "generated"),
        "rows": rows,
        "speedup": speedup,
        "disagree": disagree,
        "python": platform.python_version(),
        "machine": platform.machine(),
    }
    Path(args.json).write_text(json.dumps(report, indent=2))
    print(f"wrote {args.json}")
    return 1 if disagree else 0


def _same(a, b):
    if isinstance(a, str) or isinstance(b, str):
        return isinstance(a, str) and isinstance(b, str)  # both rejected (reasons may differ)
    return a.equals(b) and a.track_names == b.track_names


if __name__ == "__main__":
    raise SystemExit(main())

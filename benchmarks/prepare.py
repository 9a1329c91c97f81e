"""Speed of MMT data preparation: the symusic MIDI path against the pretty_midi path.

Each backend reads every MIDI file of a folder and runs the reference pipeline (resolution 12,
filters, note array) in this process, a few times; the best run counts. Skipped files count as
pieces processed. The pretty_midi path is the baseline.

    python benchmarks/prepare.py [--input DIR] [--repeat 3] [--json PATH]
"""

import argparse
import json
import pathlib
import platform
import time

from mmt_jax.notes import file_to_notes
from mmt_jax.prepare import find_music_files
from music_codecs.errors import UserError

BACKENDS = ("pretty_midi", "symusic")  # baseline first


def run_once(paths, backend):
    kept = notes = 0
    start = time.perf_counter()
    for path in paths:
        try:
            notes += len(file_to_notes(path, backend=backend))
            kept += 1
        except (UserError, Exception):  # noqa: BLE001  bad files are part of real folders
            pass
    return time.perf_counter() - start, kept, notes


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", default="/work/shared/data/midi")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", default="/tmp/mmt_prepare_benchmark.json")
    args = parser.parse_args()

    paths = [p for _, p in find_music_files(args.input) if p.lower().endswith((".mid", ".midi"))]
    rows = []
    for backend in BACKENDS:
        run_once(paths[:1], backend)  # warm up imports
        best = min(run_once(paths, backend) for _ in range(args.repeat))
        seconds, kept, notes = best
        rows.append(
            {
                "backend": backend,
                "files": len(paths),
                "kept": kept,
                "notes": notes,
                "seconds": seconds,
                "pieces_per_s": len(paths) / seconds,
                "notes_per_s": notes / seconds,
            }
        )
    base = rows[0]["seconds"]
    print(f"MMT preparation, {len(paths)} MIDI files from {args.input}, best of {args.repeat}")
    print(
        f"{'backend':<12} {'kept':>5} {'notes':>9} {'seconds':>8} {'pieces/s':>9} "
        f"{'notes/s':>10} {'speed-up':>8}"
    )
    for row in rows:
        row["speedup_vs_pretty_midi"] = base / row["seconds"]
        print(
            f"{row['backend']:<12} {row['kept']:>5} {row['notes']:>9} {row['seconds']:>8.3f} "
            f"{row['pieces_per_s']:>9.2f} {row['notes_per_s']:>10.0f} "
            f"{row['speedup_vs_pretty_midi']:>7.2f}x"
        )
    if rows[0]["notes"] != rows[1]["notes"]:
        print("warning: the two backends kept different numbers of notes")
    result = {
        "benchmark": "mmt-prepare",
        "input": args.input,
        "repeat": args.repeat,
        "machine": platform.platform(),
        "processor": platform.processor(),
        "rows": rows,
    }
    pathlib.Path(args.json).write_text(json.dumps(result, indent=1))
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()

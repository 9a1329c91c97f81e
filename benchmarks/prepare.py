"""Speed of MMT data preparation.

MIDI (default): each backend reads every MIDI file of a folder and runs the reference pipeline
(resolution 12, filters, note array) in this process, a few times; the best run counts. Skipped
files count as pieces processed. The pretty_midi path is the baseline.

    python benchmarks/prepare.py [--input DIR] [--repeat 3] [--json PATH]

Built-in corpus (`--corpus`): `mmt-jax prepare --corpus music21` as a user runs it (all pieces,
one worker per core) into a fresh folder, then the same command again (what a resumed run
costs); and, as the baseline, the reading path it replaced (music21's expandRepeats and
stripTies) against today's on a few of the slowest pieces and a chorale, one process each.

    python benchmarks/prepare.py --corpus [--baseline-pieces beethoven/opus74,...]
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


BASELINE_PIECES = "beethoven/opus74,beethoven/opus18no1/movement1,haydn/opus74no1/movement2,bach/bwv66.6"


def music21_path(path):
    """The reading path before: music21's own expandRepeats, then stripTies per part."""
    import music21

    from music_codecs.musicxml_read import score_to_table

    score = music21.converter.parse(path)
    try:
        score = score.expandRepeats()
    except Exception:  # noqa: BLE001  as before: such scores were read as written
        pass
    for part in list(score.parts):
        score.replace(part, part.stripTies())
    return score_to_table(score, path)


def corpus(args):
    import os
    import tempfile

    import music21

    from mmt_jax.notes import with_repeats
    from mmt_jax.prepare import corpus_items, default_workers, prepare
    from music_codecs.musicxml_read import read_corpus_piece

    load = os.getloadavg()[0]
    items = corpus_items()
    out = pathlib.Path(tempfile.mkdtemp(prefix="mmt-prepare-bench-"))
    start = time.perf_counter()
    report = prepare(items, out, progress=True)
    full = time.perf_counter() - start
    start = time.perf_counter()
    again = prepare(items, out, progress=False)
    rerun = time.perf_counter() - start
    rows = []
    root = pathlib.Path(music21.common.getCorpusFilePath())
    for name in args.baseline_pieces.split(","):
        path = next(p for p in root.glob(f"{name}.*"))
        timings = {}
        for label, read in (
            ("music21 path (before)", music21_path),
            ("today", lambda p: with_repeats(read_corpus_piece, p)),
        ):
            t = time.perf_counter()
            notes = len(read(str(path)))
            timings[label] = (time.perf_counter() - t, notes)
        rows.append({"piece": name, **{k: {"seconds": v[0], "notes": v[1]} for k, v in timings.items()}})
    print(
        f"music21 corpus: {len(items)} pieces, {report['kept']} kept, {report['notes']:,} notes; "
        f"{default_workers()} workers; load average at start {load:.1f}"
    )
    print(f"{'run':<28} {'seconds':>9}")
    print(f"{'whole corpus, fresh':<28} {full:>9.1f}")
    print(f"{'same command again (resume)':<28} {rerun:>9.1f}")
    print(f"\n{'piece':<32} {'before (s)':>10} {'today (s)':>10} {'speed-up':>9} {'notes b/t':>13}")
    for r in rows:
        b, t = r["music21 path (before)"], r["today"]
        print(
            f"{r['piece']:<32} {b['seconds']:>10.1f} {t['seconds']:>10.1f} "
            f"{b['seconds'] / t['seconds']:>8.1f}x {b['notes']:>6}/{t['notes']:<6}"
        )
    result = {
        "benchmark": "mmt-prepare-corpus",
        "pieces": len(items),
        "kept": report["kept"],
        "notes": report["notes"],
        "workers": default_workers(),
        "load_average_at_start": load,
        "seconds_fresh": full,
        "seconds_rerun": rerun,
        "rerun_resumed": again.get("resumed"),
        "instrument_notes": report["instrument_notes"],
        "part_programs": report["part_programs"],
        "fallback_part_names": report["fallback_part_names"],
        "pieces_compared": rows,
        "machine": platform.platform(),
        "processor": platform.processor(),
        "output": str(out),
    }
    pathlib.Path(args.json).write_text(json.dumps(result, indent=1))
    print(f"wrote {args.json} (prepared folder: {out})")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", default="/work/shared/data/midi")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", default="/tmp/mmt_prepare_benchmark.json")
    parser.add_argument("--corpus", action="store_true", help="the built-in music21 corpus instead")
    parser.add_argument("--baseline-pieces", default=BASELINE_PIECES)
    args = parser.parse_args()
    if args.corpus:
        return corpus(args)

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

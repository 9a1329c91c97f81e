"""The preparation job: music files (or the music21 corpus) -> a folder the MMT trainer reads.

Output layout, the reference's (so its prepared datasets load here and ours load there):

    <out>/notes/<name>.npy, <name>.csv   int64 rows (beat, position, pitch, duration, program)
    <out>/notes/encoding.json            the reference's encoding dictionary
    <out>/names.txt                      every prepared piece
    <out>/{train,valid,test}-names.txt   the split
    <out>/prepare-report.json            kept/skipped counts, the reason for each skipped file

Pieces go through mmt_jax.notes in worker processes; a bad file is skipped with its reason.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import pathlib
import random
import re
import sys
import time
from collections import Counter

import numpy as np

from mmt_jax import codec
from mmt_jax.notes import MIDI_SUFFIXES, MIN_NOTES, MUSICXML_SUFFIXES, save_csv
from music_codecs.errors import MusicFileError, UserError

SPLITS = ("train", "valid", "test")
CORPUS_PREFIX = "music21:"


def find_music_files(input_dir, sod_names=False):
    """(name, path) for every MIDI/MusicXML file under input_dir, sorted by path.

    A name is the relative path without its suffix; with sod_names, files laid out as SOD's
    `<collection>/<index>/<file>` are named `<collection>/<collection>-<index>` as the
    reference's convert_sod.py names them.
    """
    root = pathlib.Path(input_dir)
    if not root.is_dir():
        raise UserError(f"{root}: input folder not found")
    suffixes = MIDI_SUFFIXES + MUSICXML_SUFFIXES
    paths = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in suffixes)
    items, seen = [], set()
    for path in paths:
        rel = path.relative_to(root)
        if sod_names and len(rel.parts) == 3:
            name = f"{rel.parts[0]}/{rel.parts[0]}-{rel.parts[1]}"
        else:
            name = rel.with_suffix("").as_posix()
        if name in seen:  # a.mid next to a.xml: keep both, tell them apart by suffix
            name = f"{name}-{path.suffix.lower().lstrip('.')}"
        seen.add(name)
        items.append((name, str(path)))
    return items


# Corpus folders that hold exercises and examples rather than pieces.
CORPUS_EXCLUDED = ("demos", "leadSheet", "theoryExercises")


def corpus_items(composers=None):
    """(name, "music21:<path>") for the MusicXML pieces of the music21 corpus.

    A name is the path inside the corpus without its suffix, dots made underscores (the
    reference's with_suffix() calls would take them for a suffix): "bach/bwv66_6".
    """
    import music21

    from music_codecs.musicxml_read import list_corpus

    root = pathlib.Path(music21.common.getCorpusFilePath())
    items = []
    for path in list_corpus(composers=composers):
        rel = pathlib.Path(path).relative_to(root).with_suffix("")
        if rel.parts[0] in CORPUS_EXCLUDED:
            continue
        items.append((re.sub(r"[^\w/-]", "_", rel.as_posix()), CORPUS_PREFIX + str(path)))
    return items


def _read(source, backend, min_notes, stats, parts):
    from mmt_jax.notes import file_to_notes, table_to_notes, with_repeats

    if source.startswith(CORPUS_PREFIX):
        from music_codecs.musicxml_read import read_corpus_piece

        def read(path, expand_repeats):
            parts.clear()
            return read_corpus_piece(path, expand_repeats=expand_repeats, parts=parts)

        table = with_repeats(read, source[len(CORPUS_PREFIX) :])
        return table_to_notes(table, min_notes=min_notes, stats=stats)
    return file_to_notes(source, backend=backend, min_notes=min_notes, stats=stats)


def prepare_piece(task):
    """Worker: (name, source, notes_dir, backend, min_notes) -> (name, note count or None,
    skip reason, info); info holds the note statistics, the parts' programs and their sources
    (MusicXML), and the notes per instrument code. The arrays are written atomically."""
    from music_codecs.atomic import atomic_file

    name, source, notes_dir, backend, min_notes = task
    stats, parts = {}, []
    try:
        notes = _read(source, backend, min_notes, stats, parts)
    except MusicFileError as err:
        return name, None, err.reason, {"stats": stats}
    except UserError as err:
        return name, None, str(err), {"stats": stats}
    except Exception as err:  # noqa: BLE001  a batch job skips whatever a reader chokes on
        return name, None, f"{type(err).__name__}: {err}", {"stats": stats}
    stem = pathlib.Path(notes_dir) / name
    stem.parent.mkdir(parents=True, exist_ok=True)
    with atomic_file(f"{stem}.csv") as f:
        save_csv(f, notes)
    with atomic_file(f"{stem}.npy") as f:  # last: an .npy means the piece is complete
        np.save(f, notes)
    codes, counts = np.unique(codec.PROGRAM_TO_INSTRUMENT[notes[:, 4]], return_counts=True)
    info = {
        "stats": stats,
        "parts": [list(p) for p in parts],
        "instruments": {int(c): int(n) for c, n in zip(codes, counts)},
        "largest_beat_advance": int(np.diff(np.unique(notes[:, 0])).max()) if len(notes) > 1 else 0,
    }
    return name, len(notes), None, info


def seeded_split(names, seed=0, ratio_valid=0.1, ratio_test=0.1):
    """The reference's split.py: n = int(ratio * N) each, drawn with random.sample(seed)."""
    n_valid, n_test = int(len(names) * ratio_valid), int(len(names) * ratio_test)
    state = random.getstate()
    try:
        random.seed(seed)
        sampled = random.sample(names, n_valid + n_test)
    finally:
        random.setstate(state)
    held_out = set(sampled)
    return {
        "train": [n for n in names if n not in held_out],
        "valid": sampled[:n_valid],
        "test": sampled[n_valid:],
    }


def split_from_files(names, splits_dir):
    """Split lists read from `<splits_dir>/<split>-names.txt`, kept to the prepared names."""
    from mmt_jax.data import read_names

    prepared = set(names)
    lists = {s: read_names(pathlib.Path(splits_dir) / f"{s}-names.txt") for s in SPLITS}
    split = {s: [n for n in lists[s] if n in prepared] for s in SPLITS}
    listed = set().union(*lists.values())
    missing = sorted(listed - prepared)
    unlisted = [n for n in names if n not in listed]
    return split, {"listed_but_not_prepared": missing, "prepared_but_not_listed": unlisted}


def _write_lines(path, lines):
    from music_codecs.atomic import atomic_file

    with atomic_file(path) as f:
        f.write("".join(f"{line}\n" for line in lines).encode("utf8"))


def _write_json(path, value):
    from music_codecs.atomic import atomic_file

    with atomic_file(path) as f:
        f.write(json.dumps(value, indent=1).encode("utf8"))


LOG = "prepare-log.jsonl"  # one line per finished piece; what a rerun skips


def _read_log(output, notes_dir):
    """Finished pieces of an earlier run: {name: (count, reason, info)}; a kept piece counts
    only if its .npy is there (a crash mid-line or mid-file leaves it to be redone)."""
    done = {}
    path = output / LOG
    if not path.is_file():
        return done
    for line in path.read_text(encoding="utf8").splitlines():
        try:
            r = json.loads(line)
        except json.JSONDecodeError:
            continue
        if not isinstance(r, dict) or not {"name", "count", "reason"} <= set(r):
            continue  # a line torn by a kill or a full disk: that piece is redone
        if r["count"] is None or (notes_dir / f"{r['name']}.npy").is_file():
            done[r["name"]] = (r["count"], r["reason"], r.get("info", {}))
    return done


def default_workers():
    """One worker per core this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def prepare(
    items,
    output,
    *,
    backend="symusic",
    workers=None,
    splits_dir=None,
    seed=0,
    min_notes=MIN_NOTES,
    progress=True,
    resume=True,
    save_every=60.0,
):
    """Prepare every (name, source) item into `output`; returns the report dictionary.

    workers: processes (default: one per core). With `resume`, pieces an earlier run of the
    same folder finished (listed in prepare-log.jsonl) are not read again. The name lists, the
    split and the report are rewritten every `save_every` seconds and at the end, all
    atomically, so an interrupted run (Ctrl-C included) leaves a folder that trains, and the
    same command finishes it. The folder is locked while this runs: a second prepare into it
    stops at once with a UserError instead of orphaning the first one's pieces.
    """
    from music_codecs.atomic import folder_lock

    with folder_lock(output, "another `mmt-jax prepare`"):
        return _prepare(
            items, output, backend, workers, splits_dir, seed, min_notes, progress, resume, save_every
        )


def _prepare(items, output, backend, workers, splits_dir, seed, min_notes, progress, resume, save_every):
    import tqdm

    output = pathlib.Path(output)
    notes_dir = output / "notes"
    notes_dir.mkdir(parents=True, exist_ok=True)
    _write_json(notes_dir / "encoding.json", codec.get_encoding())
    workers = default_workers() if workers is None else workers
    done = _read_log(output, notes_dir) if resume else {}
    if not resume and (output / LOG).exists():
        (output / LOG).unlink()
    wanted = {name for name, _ in items}
    results = {name: r for name, r in done.items() if name in wanted}
    todo = [(n, src, str(notes_dir), backend, min_notes) for n, src in items if n not in results]
    start = time.perf_counter()
    bar = tqdm.tqdm(
        total=len(items), initial=len(results), unit="piece", disable=not progress, desc="prepare"
    )
    last_save = time.perf_counter()
    interrupted = False
    with open(output / LOG, "a", encoding="utf8") as log:

        def record(name, count, reason, info):
            nonlocal last_save
            results[name] = (count, reason, info)
            log.write(json.dumps({"name": name, "count": count, "reason": reason, "info": info}) + "\n")
            log.flush()
            bar.update()
            if time.perf_counter() - last_save > save_every:
                _finish(items, results, output, splits_dir, seed, backend, start, partial=True)
                last_save = time.perf_counter()

        try:
            if workers > 1 and len(todo) > 1:
                # fork shares the already imported readers, but forking a process that runs
                # JAX's threads can deadlock: then (and where fork does not exist) spawn.
                forkable = "fork" in multiprocessing.get_all_start_methods() and "jax" not in sys.modules
                method = "fork" if forkable else "spawn"
                # the largest pieces first (by file size), so no long one starts last
                todo.sort(key=lambda t: -_size(t[1]))
                with multiprocessing.get_context(method).Pool(workers) as pool:
                    for result in pool.imap_unordered(prepare_piece, todo, chunksize=1):
                        record(*result)
            else:
                for task in todo:
                    record(*prepare_piece(task))
        except KeyboardInterrupt:
            interrupted = True
    bar.close()
    report = _finish(items, results, output, splits_dir, seed, backend, start, partial=interrupted)
    report["resumed"] = len(done)
    if interrupted:
        print(
            f"interrupted: {report['finished']} of {len(items)} pieces done; rerun to resume", file=sys.stderr
        )
    return report


def _size(source):
    path = source[len(CORPUS_PREFIX) :] if source.startswith(CORPUS_PREFIX) else source
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def _finish(items, results, output, splits_dir, seed, backend, start, partial):
    """Write names, split and report for the pieces finished so far; returns the report."""
    sources = dict(items)
    names = [name for name, _ in items if name in results and results[name][0] is not None]
    skipped = [
        {"name": name, "source": sources[name], "reason": results[name][1]}
        for name, _ in items
        if name in results and results[name][0] is None
    ]
    _write_lines(output / "names.txt", names)
    split_notes = {}
    if splits_dir is not None:
        split, split_notes = split_from_files(names, splits_dir)
    else:
        split = seeded_split(names, seed)
    for part in SPLITS:
        _write_lines(output / f"{part}-names.txt", split[part])
    seconds = time.perf_counter() - start
    infos = [results[name][2] for name, _ in items if name in results]
    n_notes = sum(results[name][0] for name in names)
    report = {
        "output": str(output),
        "backend": backend,
        "pieces": len(items),
        "finished": len(results),
        "complete": not partial and len(results) == len(items),
        "kept": len(names),
        "skipped_count": len(skipped),
        "notes": n_notes,
        "seconds": round(seconds, 3),
        "split": {part: len(split[part]) for part in SPLITS},
        "split_source": str(splits_dir) if splits_dir is not None else f"seeded ({seed})",
        **split_notes,
        **corpus_statistics(infos),
        "kept_names": names,
        "skipped": skipped,
    }
    _write_json(output / "prepare-report.json", report)
    return report


def corpus_statistics(infos):
    """Totals over the pieces' info records: notes per instrument (histogram, by name), how
    the parts' programs were found, the part names that fell back to piano, and what was
    dropped (drum notes, notes of programs outside the 64 instruments, duplicates)."""
    instruments, pieces, sources, fallback = Counter(), Counter(), Counter(), Counter()
    drops = Counter()
    programs = Counter()
    for info in infos:
        for code, n in info.get("instruments", {}).items():
            instruments[codec.INSTRUMENT_NAMES[int(code)]] += n
            pieces[codec.INSTRUMENT_NAMES[int(code)]] += 1
        for name, _, source in info.get("parts", []):
            sources[source] += 1
            if source == "fallback":
                fallback[name or "(no name)"] += 1
        stats = info.get("stats", {})
        for key in ("notes_in", "drum_notes", "duplicates"):
            drops[key] += stats.get(key, 0)
        for p, n in stats.get("dropped_programs", {}).items():
            programs[int(p)] += n
    advances = [info["largest_beat_advance"] for info in infos if "largest_beat_advance" in info]
    return {
        # the largest jump in beats between consecutive onsets of any piece: what `generate
        # --strict` allows at most
        "largest_beat_advance": max(advances, default=0),
        "instrument_notes": dict(instruments.most_common()),
        "instrument_pieces": dict(pieces.most_common()),
        "part_programs": dict(sources.most_common()),
        "fallback_part_names": dict(fallback.most_common()),
        "notes_read": drops["notes_in"],
        "dropped": {
            "drum_notes": drops["drum_notes"],
            "program_notes": {str(p): n for p, n in sorted(programs.items())},
            "duplicates": drops["duplicates"],
        },
    }


def summary(report):
    """The report as a few printable lines."""
    lines = [
        f"prepared {report['kept']} of {report['pieces']} pieces, {report['notes']:,} notes, "
        f"in {report['seconds']:.1f} s -> {report['output']}"
        + (f" ({report['resumed']} done by an earlier run)" if report.get("resumed") else ""),
        "split: "
        + ", ".join(f"{k} {v}" for k, v in report["split"].items())
        + f" ({report['split_source']})",
    ]
    total = sum(report.get("instrument_notes", {}).values())
    if total:
        lines.append(
            "instruments (share of notes): "
            + ", ".join(f"{k} {100 * v / total:.1f}%" for k, v in report["instrument_notes"].items())
        )
    if report.get("part_programs"):
        sources = report["part_programs"]
        lines.append(
            "part programs: "
            + ", ".join(f"{n} from {k}" for k, n in sources.items())
            + (
                " (fallback to piano: "
                + ", ".join(f"{k} x{v}" for k, v in report["fallback_part_names"].items())
                + ")"
                if report.get("fallback_part_names")
                else ""
            )
        )
    dropped = report.get("dropped", {})
    if dropped:
        from mmt_jax.notes import describe_drops

        lines.append(
            f"{report['notes_read']:,} notes read; "
            + describe_drops(
                {
                    "drum_notes": dropped["drum_notes"],
                    "dropped_programs": {int(p): n for p, n in dropped["program_notes"].items()},
                    "duplicates": dropped["duplicates"],
                }
            )
        )
    if report["skipped"]:
        lines.append(f"skipped {report['skipped_count']}:")
        lines += [f"  {s['name']}: {s['reason']}" for s in report["skipped"]]
    for key in ("listed_but_not_prepared", "prepared_but_not_listed"):
        if report.get(key):
            lines.append(f"{key.replace('_', ' ')}: {len(report[key])}")
    return "\n".join(lines)

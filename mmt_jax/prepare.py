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
import pathlib
import random
import re
import sys
import time

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


def _read(source, backend, min_notes):
    from mmt_jax.notes import file_to_notes, table_to_notes, with_repeats

    if source.startswith(CORPUS_PREFIX):
        from music_codecs.musicxml_read import read_corpus_piece

        table = with_repeats(read_corpus_piece, source[len(CORPUS_PREFIX) :])
        return table_to_notes(table, min_notes=min_notes)
    return file_to_notes(source, backend=backend, min_notes=min_notes)


def prepare_piece(task):
    """Worker: one (name, source, notes_dir, backend) -> (name, note count or None, reason)."""
    name, source, notes_dir, backend, min_notes = task
    try:
        notes = _read(source, backend, min_notes)
    except MusicFileError as err:
        return name, None, err.reason
    except UserError as err:
        return name, None, str(err)
    except Exception as err:  # noqa: BLE001  a batch job skips whatever a reader chokes on
        return name, None, f"{type(err).__name__}: {err}"
    stem = pathlib.Path(notes_dir) / name
    stem.parent.mkdir(parents=True, exist_ok=True)
    np.save(f"{stem}.npy", notes)
    save_csv(f"{stem}.csv", notes)
    return name, len(notes), None


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
    pathlib.Path(path).write_text("".join(f"{line}\n" for line in lines), encoding="utf8")


def prepare(
    items,
    output,
    *,
    backend="symusic",
    workers=1,
    splits_dir=None,
    seed=0,
    min_notes=MIN_NOTES,
    progress=True,
):
    """Prepare every (name, source) item into `output`; returns the report dictionary."""
    import tqdm

    output = pathlib.Path(output)
    notes_dir = output / "notes"
    notes_dir.mkdir(parents=True, exist_ok=True)
    (notes_dir / "encoding.json").write_text(json.dumps(codec.get_encoding()), encoding="utf8")
    sources = dict(items)
    tasks = [(name, source, str(notes_dir), backend, min_notes) for name, source in items]
    start = time.perf_counter()
    bar = tqdm.tqdm(total=len(tasks), unit="piece", disable=not progress, desc="prepare")
    results = {}
    if workers > 1 and len(tasks) > 1:
        # fork shares the already imported readers, but forking a process that runs JAX's
        # threads can deadlock: then (and where fork does not exist) start fresh workers.
        forkable = "fork" in multiprocessing.get_all_start_methods() and "jax" not in sys.modules
        method = "fork" if forkable else "spawn"
        with multiprocessing.get_context(method).Pool(workers) as pool:
            for name, count, reason in pool.imap_unordered(prepare_piece, tasks, chunksize=1):
                results[name] = (count, reason)
                bar.update()
    else:
        for task in tasks:
            name, count, reason = prepare_piece(task)
            results[name] = (count, reason)
            bar.update()
    bar.close()
    seconds = time.perf_counter() - start

    names = [name for name, _ in items if results[name][0] is not None]
    skipped = [
        {"name": name, "source": sources[name], "reason": results[name][1]}
        for name, _ in items
        if results[name][0] is None
    ]
    _write_lines(output / "names.txt", names)
    split_notes = {}
    if splits_dir is not None:
        split, split_notes = split_from_files(names, splits_dir)
    else:
        split = seeded_split(names, seed)
    for part in SPLITS:
        _write_lines(output / f"{part}-names.txt", split[part])
    n_notes = sum(results[name][0] for name in names)
    report = {
        "output": str(output),
        "backend": backend,
        "pieces": len(items),
        "kept": len(names),
        "skipped_count": len(skipped),
        "notes": n_notes,
        "seconds": round(seconds, 3),
        "pieces_per_second": round(len(items) / seconds, 3) if seconds else None,
        "notes_per_second": round(n_notes / seconds, 1) if seconds else None,
        "split": {part: len(split[part]) for part in SPLITS},
        "split_source": str(splits_dir) if splits_dir is not None else f"seeded ({seed})",
        **split_notes,
        "kept_names": names,
        "skipped": skipped,
    }
    (output / "prepare-report.json").write_text(json.dumps(report, indent=1), encoding="utf8")
    return report


def summary(report):
    """The report as a few printable lines."""
    lines = [
        f"prepared {report['kept']} of {report['pieces']} pieces, {report['notes']} notes, "
        f"in {report['seconds']:.1f} s -> {report['output']}",
        "split: "
        + ", ".join(f"{k} {v}" for k, v in report["split"].items())
        + f" ({report['split_source']})",
    ]
    if report["skipped"]:
        lines.append(f"skipped {report['skipped_count']}:")
        lines += [f"  {s['name']}: {s['reason']}" for s in report["skipped"]]
    for key in ("listed_but_not_prepared", "prepared_but_not_listed"):
        if report.get(key):
            lines.append(f"{key.replace('_', ' ')}: {len(report[key])}")
    return "\n".join(lines)

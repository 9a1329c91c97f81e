"""Phrase datasets: sources -> bool [N, bars, steps, 84, 5] phrases in one .npz file.

    phrases, report = prepare(source, beat_resolution=24, bars=4, limit=None)
    save_phrases(path, phrases, beat_resolution, names); load_phrases(path) -> (phrases, info)

Sources (reference §1.1):
  * "corpus" (default): music21's Bach chorales, shipped with music21, so every command works
    offline; voices become tracks by families.VOICES (drums and one family stay empty).
  * a folder of MIDI / MusicXML files: parts grouped by the LPD-5 rule (families.py).
  * a folder of LPD-style multitrack .npz files (pypianoroll's layout: pianoroll_<i>_csc_*
    arrays + info.json with each track's program and is_drum, or dense pianoroll_<i> arrays).
  * one MuseGAN phrase file (`shape` + `nonzero`, e.g. train_x_lpd_5_phr.npz): used as is.
Only 4/4 pieces (or pieces without a time signature) are read; phrases are consecutive
non-overlapping 4-bar windows counted from the first tick that hold at least one note (the
paper segments songs with structural features instead, which needs MSAF). Bad files are
skipped, counted and named.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from musegan_jax import encoding
from musegan_jax.config import PITCHES, TRACKS
from musegan_jax.families import lpd5_family, track_families
from music_codecs.errors import UserError


def _four_four(table):
    sigs = table.time_signatures
    return len(sigs) == 0 or bool(np.all((sigs[:, 1] == 4) & (sigs[:, 2] == 4)))


def table_phrases(table, beat_resolution, bars, rule, steps=None):
    """Phrases of one piece; `steps` is its length (default: up to the last note)."""
    roll = encoding.encode(table, beat_resolution, track_families(table, rule), steps=steps)
    return encoding.to_phrases(roll, beat_resolution, bars)


def _from_tables(items, beat_resolution, bars, rule, skipped):
    out, names = [], []
    for name, table in items:
        if not _four_four(table):
            skipped.append((name, "not in 4/4"))
            continue
        phrases = table_phrases(table, beat_resolution, bars, rule)
        if not len(phrases):
            skipped.append((name, f"no {bars}-bar phrase with notes"))
            continue
        out.append(phrases)
        names += [name] * len(phrases)
    return out, names


def _corpus(limit, progress):
    from music_codecs.musicxml_read import list_corpus, read_corpus_piece

    paths = [p for p in list_corpus("bach") if Path(p).suffix.lower() in (".mxl", ".xml", ".musicxml")]
    paths = paths[:limit] if limit else paths
    if progress:
        from tqdm import tqdm

        paths = tqdm(paths, desc="reading chorales", unit="piece")
    for path in paths:
        try:
            yield Path(path).stem, read_corpus_piece(path)
        except Exception as err:  # noqa: BLE001 - a batch job survives any one piece
            yield Path(path).stem, err


def _lpd_npz(path, beat_resolution, bars):
    """One pypianoroll-style multitrack .npz -> phrases (LPD-5 families by program/is_drum)."""
    with np.load(path, allow_pickle=False) as z:
        keys = set(z.files)
        info = json.loads(str(z["info.json"])) if "info.json" in keys else {}
        resolution = int(info.get("beat_resolution", info.get("resolution", 24)))
        tracks = sorted({int(k.split("_")[1]) for k in keys if k.startswith("pianoroll_")})
        merged = None
        for i in tracks:
            if f"pianoroll_{i}_csc_data" in keys:
                import scipy.sparse

                shape = tuple(z[f"pianoroll_{i}_csc_shape"])
                roll = scipy.sparse.csc_matrix(
                    (
                        z[f"pianoroll_{i}_csc_data"],
                        z[f"pianoroll_{i}_csc_indices"],
                        z[f"pianoroll_{i}_csc_indptr"],
                    ),
                    shape=shape,
                ).toarray()
            else:
                roll = z[f"pianoroll_{i}"]
            meta = info.get(str(i), {})
            family = TRACKS.index(lpd5_family(meta.get("program", 0), meta.get("is_drum", False)))
            if merged is None:
                merged = np.zeros((roll.shape[0], 128, len(TRACKS)), bool)
            n = min(len(merged), len(roll))
            merged[:n, :, family] |= roll[:n, :128] > 0
    if merged is None:
        raise UserError(f"{path}: no pianoroll_<i> arrays (not an LPD-style .npz)")
    roll = merged[:, 24 : 24 + PITCHES]
    # A raw roll marks whole notes: drums keep their onsets; decode's run of k steps is a note
    # of k + 1 (it assumes our rest step), a raw run of k is a note of k.
    drums = roll[:, :, 0]
    roll[:, :, 0] = drums & ~np.pad(drums, ((1, 0), (0, 0)))[:-1]
    table = encoding.decode(roll, resolution)
    table = table.replace(duration=np.where(table.is_drum, table.duration, table.duration - 1))
    return table_phrases(
        table, beat_resolution, bars, "lpd5", steps=len(roll) * beat_resolution // resolution
    )


def read_phrase_file(path):
    """A MuseGAN phrase file (`shape` + `nonzero`) or one of ours (`phrases`)."""
    with np.load(path, allow_pickle=False) as z:
        if "phrases" in z.files:
            return np.asarray(z["phrases"], bool), json.loads(str(z["info"]))
        if "shape" in z.files and "nonzero" in z.files:
            shape = tuple(int(s) for s in z["shape"])
            data = np.zeros(shape, bool)
            data[tuple(z["nonzero"])] = True
            if len(shape) != 5 or shape[3] != PITCHES:
                raise UserError(f"{path}: phrase shape {shape} is not [N, bars, steps, 84, tracks]")
            return data, {"beat_resolution": shape[2] // 4, "source": str(path)}
    raise UserError(f"{path}: neither a phrase file (phrases / shape+nonzero) nor LPD arrays")


def prepare(source="corpus", beat_resolution=24, bars=4, limit=None, progress=True):
    """(phrases, report) with report = {"files", "skipped": [(name, why)], "source"}."""
    skipped, chunks, names = [], [], []
    if source == "corpus":
        good, files = [], 0
        for name, table in _corpus(limit, progress):
            files += 1
            if isinstance(table, Exception):
                skipped.append((name, f"{type(table).__name__}: {table}"))
            else:
                good.append((name, table))
        chunks, names = _from_tables(good, beat_resolution, bars, "voices", skipped)
    else:
        path = Path(source)
        if path.is_file() and path.suffix == ".npz":
            phrases, info = read_phrase_file(path)
            return phrases, {"files": 1, "skipped": [], "source": str(path), **info}
        if not path.is_dir():
            raise UserError(f"{path}: not a folder of MIDI/MusicXML/.npz files nor a phrase .npz file")
        npz = sorted(path.rglob("*.npz"))
        from music_codecs.read import FolderReader, music_files

        midi = music_files(path)
        files = len(npz) + len(midi)
        if not files:
            raise UserError(f"{path}: no .mid/.midi/.xml/.mxl/.musicxml/.npz files")
        for p in npz[:limit] if limit else npz:
            try:
                got = _lpd_npz(p, beat_resolution, bars)
            except Exception as err:  # noqa: BLE001
                skipped.append((str(p), f"{type(err).__name__}: {err}"))
                continue
            if len(got):
                chunks.append(got)
                names += [p.stem] * len(got)
            else:
                skipped.append((str(p), f"no {bars}-bar phrase with notes"))
        reader = FolderReader(midi[:limit] if limit else midi, progress=progress)
        more, more_names = _from_tables(iter(reader), beat_resolution, bars, "lpd5", skipped)
        skipped += reader.skipped
        chunks += more
        names += [Path(n).stem for n in more_names]
    if not chunks:
        raise UserError(f"{source}: no usable 4/4 phrases ({len(skipped)} files skipped)")
    phrases = np.concatenate(chunks)
    return phrases, {"files": files, "skipped": skipped, "source": str(source), "names": names}


def save_phrases(path, phrases, beat_resolution, report=None):
    """Write our phrase file (compressed; bool phrases + JSON info), atomically."""
    from music_codecs.atomic import atomic_file

    report = report or {}
    info = {
        "beat_resolution": int(beat_resolution),
        "bars": int(phrases.shape[1]),
        "tracks": list(TRACKS),
        "source": report.get("source", ""),
        "files": report.get("files", 0),
        "skipped": len(report.get("skipped", [])),
        "pieces": sorted(set(report.get("names", []))),
    }
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with atomic_file(path) as f:
        np.savez_compressed(f, phrases=np.asarray(phrases, bool), info=json.dumps(info))
    return str(path)


def load_phrases(path):
    """(phrases bool [N, bars, steps, 84, 5], info) from a phrase file; one-line errors."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: no phrase file (run `musegan-jax prepare --out {path}` or set --data)")
    try:
        phrases, info = read_phrase_file(path)
    except (OSError, ValueError, KeyError) as err:
        raise UserError(f"{path}: unreadable phrase file ({err})") from err
    if phrases.ndim != 5 or phrases.shape[3:] != (PITCHES, len(TRACKS)):
        raise UserError(f"{path}: phrases of shape {phrases.shape}, expected [N, bars, steps, 84, 5]")
    return phrases, info

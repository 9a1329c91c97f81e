"""Labelled pieces and the datasets built from them (reference §2, §3).

A `Piece` is the downmix of a multi-part score: every note with its part label, sorted by
(time, pitch, duration, velocity) — the one order every model and baseline sees. Times are in
steps of 1/24 quarter note (NES: the code's 100 steps per second, reference §2.3).

Collection rules shared by every dataset: zero-length notes are dropped, duplicates within a part
(same time, pitch and duration) keep the last one, and a piece is kept only when at least two parts
have more than ten notes. Splits are an independent seeded 8:1:1 draw per file.
"""

from __future__ import annotations

import dataclasses
import json
import random
from pathlib import Path

import numpy as np

from arranger_jax import labels as label_rules
from music_codecs.errors import UserError

RESOLUTION = 24  # steps per quarter note
SPLITS = ("train", "valid", "test")
MIN_NOTES_PER_PART = 10  # a part counts when it has *more* than this many notes
MIN_PARTS = 2


@dataclasses.dataclass(eq=False)
class Piece:
    name: str
    time: np.ndarray
    pitch: np.ndarray
    duration: np.ndarray
    velocity: np.ndarray
    label: np.ndarray  # part index 0..K-1

    def __post_init__(self):
        for field in ("time", "pitch", "duration", "velocity", "label"):
            setattr(self, field, np.asarray(getattr(self, field), np.int64).reshape(-1))

    def __len__(self):
        return len(self.time)

    def notes(self):
        """[N, 5] array: time, pitch, duration, velocity, label."""
        return np.stack([self.time, self.pitch, self.duration, self.velocity, self.label], 1)

    @classmethod
    def from_notes(cls, name, notes):
        notes = np.asarray(notes, np.int64).reshape(-1, 5)
        return cls(name, *(notes[:, i] for i in range(5)))

    def select(self, index):
        return Piece(
            self.name,
            self.time[index],
            self.pitch[index],
            self.duration[index],
            self.velocity[index],
            self.label[index],
        )

    def first(self, n):
        """The first n notes (the reference evaluates models on at most 2,000 notes)."""
        return self if n is None else self.select(slice(0, n))


def clean_part(notes):
    """[n, 4] (time, pitch, duration, velocity): drop zero-length notes and duplicate
    (time, pitch, duration) keys, the last occurrence winning; sort by (time, pitch, duration)."""
    notes = np.asarray(notes, np.int64).reshape(-1, 4)
    notes = notes[notes[:, 2] > 0]
    keep = {}
    for row in notes:  # dict insertion keeps the last duplicate's velocity
        keep[(row[0], row[1], row[2])] = row
    if not keep:
        return np.zeros((0, 4), np.int64)
    out = np.array(list(keep.values()), np.int64)
    return out[np.lexsort((out[:, 2], out[:, 1], out[:, 0]))]


def make_piece(name, part_notes, num_parts):
    """Build a sorted Piece from {label: [n, 4] notes} (several tracks may share a label; they are
    merged before the duplicate check). Returns None when fewer than two parts have > 10 notes."""
    rows, used = [], 0
    for label in range(num_parts):
        chunks = [np.asarray(c, np.int64).reshape(-1, 4) for c in part_notes.get(label, [])]
        if not chunks:
            continue
        notes = clean_part(np.concatenate(chunks))
        used += len(notes) > MIN_NOTES_PER_PART
        rows.append(np.concatenate([notes, np.full((len(notes), 1), label)], 1))
    if used < MIN_PARTS:
        return None
    notes = np.concatenate(rows)
    order = np.lexsort((notes[:, 3], notes[:, 2], notes[:, 1], notes[:, 0]))
    return Piece.from_notes(name, notes[order])


# ----------------------------------------------------------------------------------------------
# music21 scores (the corpus that ships with music21)


def music21_part_notes(part, resolution=RESOLUTION):
    """[n, 4] notes of one music21 part: offsets and lengths times `resolution`, rounded; tied
    notes of one pitch merged (their durations summed, as muspy 0.3 does, which matters when
    another note interrupts a tie); grace notes skipped; chords expanded into notes; repeats not
    expanded (the reference's muspy 0.3 did not expand them either)."""
    open_ties = {}  # pitch -> row of the note a tie is still extending
    rows = []
    for element in part.flatten().notes:
        if element.duration.isGrace:
            continue
        time = int(round(float(element.offset) * resolution))
        duration = int(round(float(element.quarterLength) * resolution))
        components = element.notes if element.isChord else (element,)
        for note in components:
            if not hasattr(note, "pitch"):  # unpitched percussion
                continue
            pitch = int(note.pitch.midi)
            velocity = note.volume.velocity if note.volume.velocity is not None else 64
            tie = note.tie if note.tie is not None else getattr(element, "tie", None)
            tie_type = tie.type if tie is not None else None
            if tie_type in ("continue", "stop") and pitch in open_ties:
                row = open_ties[pitch]
                row[2] += duration
                if tie_type == "stop":
                    del open_ties[pitch]
                continue
            row = [time, pitch, duration, int(velocity)]
            rows.append(row)
            if tie_type == "start":
                open_ties[pitch] = row
            else:
                open_ties.pop(pitch, None)
    return np.array(rows, np.int64).reshape(-1, 4)


def music21_piece(score, name, dataset):
    """Label the parts of a parsed music21 score and build the Piece (None when it is not kept)."""
    score_parts = list(score.parts)
    k = label_rules.num_parts(dataset)
    part_notes = {}
    for index, part in enumerate(score_parts):
        if dataset == "bach":
            label = label_rules.bach_label(part.partName, name)
        elif dataset == "quartets":
            label = label_rules.quartet_label(index, len(score_parts))
        else:
            raise UserError(f"music21 scores are labelled only for bach and quartets, not {dataset!r}")
        if label is not None:
            part_notes.setdefault(label, []).append(music21_part_notes(part))
    return make_piece(name, part_notes, k)


def corpus_paths(dataset):
    """(name, path) of the corpus files the reference used: Bach `.mxl`/`.xml`; the Haydn, Mozart
    and Beethoven `.mxl` files (only those with exactly four parts end up as quartets)."""
    from music21 import corpus

    root = Path(corpus.__file__).parent
    composers = {"bach": ("bach",), "quartets": ("haydn", "mozart", "beethoven")}.get(dataset)
    if composers is None:
        raise UserError(f"no music21 corpus set for dataset {dataset!r}")
    out = []
    for composer in composers:
        for path in corpus.getComposer(composer):
            path = Path(path)
            suffixes = (".mxl", ".xml") if dataset == "bach" else (".mxl",)
            if path.suffix in suffixes:
                # Bach names are unique file stems (bwv1.6); quartet movements need their folder
                # (beethoven/opus18no1/movement1)
                name = (
                    path.name[: -len(path.suffix)]
                    if dataset == "bach"
                    else str(path.relative_to(root).with_suffix(""))
                    if path.is_relative_to(root)
                    else f"{composer}/{path.parent.name}/{path.stem}"
                )
                out.append((name, path))
    return out


def collect_corpus(dataset, limit=None, progress=True):
    """Parse the corpus set; returns (pieces, skipped) where skipped lists (name, reason)."""
    from music21 import converter
    from tqdm import tqdm

    pieces, skipped = [], []
    items = corpus_paths(dataset)[:limit]
    for name, path in tqdm(items, desc=f"collect {dataset}", disable=not progress, unit="file"):
        try:
            score = converter.parse(str(path))
        except Exception as err:  # a corrupt file is skipped and reported, not fatal
            skipped.append((name, f"unreadable: {err}".splitlines()[0]))
            continue
        if dataset == "quartets" and len(score.parts) != 4:
            skipped.append((name, f"{len(score.parts)} parts, not a quartet"))
            continue
        piece = music21_piece(score, name, dataset)
        if piece is None:
            skipped.append((name, f"fewer than {MIN_PARTS} parts with > {MIN_NOTES_PER_PART} notes"))
        else:
            pieces.append(piece)
    return pieces, skipped


# ----------------------------------------------------------------------------------------------
# Local folders of MIDI files (MusicNet, NES-MDB, Lakh MIDI), read through music_codecs


def note_table_piece(table, name, dataset):
    """Label the tracks of a music_codecs NoteTable and build the Piece at 24 steps per quarter
    (NES: 100 steps per second at the files' fixed 120 qpm, the reference code's choice)."""
    k = label_rules.num_parts(dataset)
    steps = 50 if dataset == "nes" else RESOLUTION
    scale = steps / table.resolution
    names = list(table.track_names)
    num_tracks = table.num_tracks
    part_notes = {}
    for track in range(num_tracks):
        mask = table.track == track
        if not mask.any():
            continue
        track_name = names[track] if track < len(names) else ""
        if dataset == "bach":
            label = label_rules.bach_label(track_name, name)
        elif dataset == "quartets":
            label = label_rules.quartet_label(track, num_tracks)
        elif dataset == "musicnet":
            label = label_rules.musicnet_label(track_name, name, track)
        elif dataset == "nes":
            label = label_rules.nes_label(track_name)
        elif dataset == "lmd":
            label = label_rules.lmd_label(int(table.program[mask][0]), bool(table.is_drum[mask][0]))
        else:
            raise UserError(f"no track labelling rule for dataset {dataset!r}")
        if label is None:
            continue
        onset = np.round(table.onset[mask] * scale).astype(np.int64)
        end = np.round((table.onset[mask] + table.duration[mask]) * scale).astype(np.int64)
        velocity = np.full(mask.sum(), 64) if dataset == "nes" else table.velocity[mask]
        notes = np.stack([onset, table.pitch[mask], end - onset, velocity], 1)
        part_notes.setdefault(label, []).append(notes)
    return make_piece(name, part_notes, k)


def folder_paths(dataset, folder, id_list=None):
    """(name, path, split-or-None) of the MIDI files of a local dataset folder."""
    folder = Path(folder)
    if not folder.is_dir():
        raise UserError(f"{folder}: not a folder")
    paths = sorted(p for p in folder.rglob("*") if p.suffix.lower() in (".mid", ".midi"))
    if dataset == "lmd" and id_list is not None:
        paths = [p for p in paths if p.stem in id_list]
    out = []
    for path in paths:
        split = None
        if dataset == "nes":  # NES-MDB ships its own train/valid/test folders
            split = next((part for part in path.parts if part in SPLITS), None)
        out.append((path.stem, path, split))
    return out


def collect_folder(dataset, folder, id_list=None, progress=True):
    """Read every MIDI file of a local folder; returns (pieces, skipped, given_splits)."""
    from tqdm import tqdm

    from music_codecs.read import read_music

    pieces, skipped, given = [], [], {}
    for name, path, split in tqdm(
        folder_paths(dataset, folder, id_list), desc=f"collect {dataset}", disable=not progress, unit="file"
    ):
        try:
            table = read_music(path)
            if dataset == "lmd" and _seconds(table) > 1200:
                skipped.append((name, "longer than 20 minutes"))
                continue
            piece = note_table_piece(table, name, dataset)
        except Exception as err:  # the reference skips any file that fails
            skipped.append((name, str(err).splitlines()[0] if str(err) else type(err).__name__))
            continue
        if piece is None:
            skipped.append((name, f"fewer than {MIN_PARTS} parts with > {MIN_NOTES_PER_PART} notes"))
            continue
        pieces.append(piece)
        if split is not None:
            given[name] = split
    return pieces, skipped, given


def _seconds(table):
    """Real-time length of a NoteTable from its tempo map (120 qpm before the first tempo)."""
    end = table.end
    ticks = [0] + [int(t) for t in table.tempo_tick if t > 0]
    qpms = [120.0] + [float(q) for t, q in zip(table.tempo_tick, table.tempo_qpm) if t > 0]
    if len(table.tempo_tick) and table.tempo_tick[0] <= 0:
        qpms[0] = float(table.tempo_qpm[0])
    bounds = ticks + [max(end, ticks[-1])]
    return sum(
        max(0, min(bounds[i + 1], end) - bounds[i]) / table.resolution * 60.0 / qpm
        for i, qpm in enumerate(qpms)
    )


# ----------------------------------------------------------------------------------------------
# Splits and storage


def split_pieces(names, seed=0, weights=(8, 1, 1), exact=False):
    """{name: split}. Default: the reference's rule, an independent weighted draw per file in the
    given order (its filesystem order is not reproducible; ours is the sorted corpus order).
    exact=True: a seeded shuffle cut in the given proportions, each split getting at least one
    file — for small sets such as the 46 corpus quartets, where independent draws can leave the
    test split empty."""
    rng = random.Random(seed)
    names = list(names)
    if not exact:
        return {name: rng.choices(SPLITS, weights=weights)[0] for name in names}
    order = rng.sample(names, len(names))
    total = sum(weights)
    n_valid = max(1, round(len(names) * weights[1] / total)) if len(names) > 2 else 0
    n_test = max(1, round(len(names) * weights[2] / total)) if len(names) > 1 else 0
    n_train = len(names) - n_valid - n_test
    return {
        name: ("train" if i < n_train else "valid" if i < n_train + n_valid else "test")
        for i, name in enumerate(order)
    }


def save_split(pieces, path):
    """All pieces of one split in one .npz: concatenated notes, lengths and names."""
    from music_codecs.atomic import atomic_file

    notes = np.concatenate([p.notes() for p in pieces]) if pieces else np.zeros((0, 5), np.int64)
    with atomic_file(path) as f:  # whole files only, even on a full disk
        np.savez_compressed(
            f,
            notes=notes,
            lengths=np.array([len(p) for p in pieces], np.int64),
            names=np.array([p.name for p in pieces], dtype=str),
        )


def load_split(path):
    path = Path(path)
    if not path.exists():
        raise UserError(f"{path}: dataset split not found (run `arranger-jax prepare` first)")
    with np.load(path) as data:
        notes, lengths, names = data["notes"], data["lengths"], data["names"]
    bounds = np.concatenate([[0], np.cumsum(lengths)])
    return [Piece.from_notes(str(names[i]), notes[bounds[i] : bounds[i + 1]]) for i in range(len(names))]


def load_dataset(folder, splits=SPLITS):
    """{split: [Piece]} from a folder written by `save_dataset`."""
    folder = Path(folder)
    info = folder / "dataset.json"
    if not info.exists():
        raise UserError(f"{folder}: no dataset.json (run `arranger-jax prepare` first)")
    return {split: load_split(folder / f"{split}.npz") for split in splits}


def dataset_info(folder):
    with open(Path(folder) / "dataset.json") as f:
        return json.load(f)


def save_dataset(pieces, skipped, folder, dataset, seed=0, given=None, exact_split=False):
    """Write {train,valid,test}.npz, skipped.txt, samples.txt and dataset.json with the counts.
    `given` ({name: split}) overrides the drawn split (NES-MDB ships its own)."""
    names = [p.name for p in pieces]
    if len(set(names)) != len(names):  # names key the split, samples.txt and the baselines
        dup = sorted({n for n in names if names.count(n) > 1})
        raise UserError(f"piece names must be unique; repeated: {', '.join(dup[:5])}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    assignment = split_pieces([p.name for p in pieces], seed, exact=exact_split)
    if given:
        assignment.update({name: split for name, split in given.items() if name in assignment})
    by_split = {split: [p for p in pieces if assignment[p.name] == split] for split in SPLITS}
    for split, items in by_split.items():
        save_split(items, folder / f"{split}.npz")
    from music_codecs.atomic import write_text_atomic

    write_text_atomic(folder / "skipped.txt", "".join(f"{name}\t{reason}\n" for name, reason in skipped))
    rng = random.Random(seed)  # at most 100 test pieces for samples and the slow baselines
    test_names = [p.name for p in by_split["test"]]
    samples = rng.sample(test_names, min(100, len(test_names)))
    write_text_atomic(folder / "samples.txt", "".join(f"{name}\n" for name in samples))
    info = dataset_summary(pieces, dataset)
    info.update(
        seed=seed,
        skipped=len(skipped),
        exact_split=exact_split,
        splits={s: {"files": len(v), "notes": int(sum(len(p) for p in v))} for s, v in by_split.items()},
    )
    write_text_atomic(folder / "dataset.json", json.dumps(info, indent=2))  # last: marks it complete
    return info


def dataset_summary(pieces, dataset):
    """Files, notes, beats (sum over pieces of the last note end in quarters) and part shares."""
    k = label_rules.num_parts(dataset)
    counts = np.zeros(k, np.int64)
    beats = 0
    lengths = []
    for p in pieces:
        counts += np.bincount(p.label, minlength=k)[:k]
        lengths.append(len(p))
        if len(p):
            beats += int(np.ceil((p.time + p.duration).max() / RESOLUTION))
    total = int(counts.sum())
    names = label_rules.parts(dataset)
    return {
        "dataset": dataset,
        "files": len(pieces),
        "notes": total,
        "beats": beats,
        "share": {names[i]: round(100.0 * counts[i] / max(total, 1), 2) for i in range(k)},
        "notes_per_file": (
            {"min": int(min(lengths)), "median": float(np.median(lengths)), "max": int(max(lengths))}
            if lengths
            else {}
        ),
    }

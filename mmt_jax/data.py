"""Training and validation batches of MMT code rows, through a grain pipeline (reference §1.6).

Reads a prepared folder (the reference's layout: `<dir>/<name>.npy` note arrays listed in a
names file) and makes one sequence per piece in one of two ways (`windows`):

* "reference" (the reference's dataset, for parity runs): pitch shift -5..+6 with clipping and
  a random 256-beat window when training, the first 256 beats when validating; encoded and
  capped at max_seq_len rows *keeping end-of-song last*. A piece longer than the window thus
  always ends in an end-of-song right after the cut, and the model learns to stop at the window's
  edge (a tiny model's samples all ended at event 128).
* "events" (the default of new configs): the same pitch shift, then a window of as many notes
  as fit in max_seq_len rows, starting at a random note when training and at the first when
  validating, after SOS, its instrument rows and SON, beats moved to start at 0 (and cut at
  max_beat); the sampler re-bases a refilled window the same way (mmt_jax.sample). The window
  carries an end-of-song only if it holds the piece's last note: only true ends teach the
  model to stop.

Sequences are right-padded with zero rows.

Batches are dicts: `codes` int32 [B, T, 6], `mask` bool [B, T] (True on real rows) and
`seq_len` int32 [B]. Padding: by default every batch has T = max_seq_len, so a jitted train step
compiles once; with `pad_to=None`, T is the longest row count in the batch rounded up to
`pad_multiple` (at most max_seq_len / pad_multiple shapes, less padding work).

Everything random comes from grain's per-element generators seeded by `seed`, so a pipeline is
deterministic and the same on every host, and its iterator's get_state()/set_state() resume it
exactly. With several processes each one keeps its own rows of every global batch. Batches are made
in the calling process: a batch of 8 x 1024 rows takes about 10 ms on one CPU core, small next
to a train step, and grain's multiprocess prefetch would change the iterator-state format.
"""

from __future__ import annotations

import functools
import pathlib

import numpy as np

from mmt_jax.codec import MODEL_MAX_BEAT, PROGRAM_TO_INSTRUMENT, encode_notes
from mmt_jax.notes import load_array
from music_codecs.errors import UserError

MAX_SEQ_LEN = 1024
PITCH_SHIFTS = (-5, 6)  # inclusive range of the training pitch shift
WINDOW_TRIALS = 10
WINDOW_MIN_NOTES = 10  # a window is accepted with more than this many notes
WINDOWS = ("events", "reference")


def read_names(path):
    """The names listed in a text file, one per line (blank lines ignored)."""
    path = pathlib.Path(path)
    if not path.is_file():
        raise UserError(f"{path}: names file not found")
    return [line.strip() for line in path.read_text(encoding="utf8").splitlines() if line.strip()]


def load_notes(data_dir, name, use_csv=False):
    """One stored note array [N, 5] (beat, position, pitch, duration, program), int64."""
    return load_array(pathlib.Path(data_dir) / f"{name}.{'csv' if use_csv else 'npy'}", 5)


class NotesSource:
    """Random access to the note arrays of a prepared folder (a grain data source)."""

    def __init__(self, data_dir, names, use_csv=False):
        self.data_dir = pathlib.Path(data_dir)
        self.names = list(names)
        self.use_csv = use_csv

    def __len__(self):
        return len(self.names)

    def __getitem__(self, index):
        return load_notes(self.data_dir, self.names[index], self.use_csv)


def augment(notes, rng, max_beat=MODEL_MAX_BEAT):
    """The reference's training augmentation of one note array.

    Pitches shift by s ~ U{-5..6}, clipped to [0, 127]. A piece longer than max_beat beats is
    cut to a random window [start, start + max_beat) with start ~ U{0..n_beats - max_beat - 1};
    up to 10 windows are drawn and the first with more than 10 notes is kept (else the last
    drawn), and its beats are moved to start at 0.
    """
    notes = np.array(notes, np.int64).reshape(-1, 5)
    shift = rng.integers(PITCH_SHIFTS[0], PITCH_SHIFTS[1] + 1)
    notes[:, 2] = np.clip(notes[:, 2] + shift, 0, 127)
    n_beats = int(notes[:, 0].max()) + 1 if len(notes) else 0
    if n_beats > max_beat:
        for _ in range(WINDOW_TRIALS):
            start = int(rng.integers(n_beats - max_beat))
            inside = (notes[:, 0] >= start) & (notes[:, 0] < start + max_beat)
            if inside.sum() > WINDOW_MIN_NOTES:
                break
        notes = notes[inside]
        notes[:, 0] -= start
    return notes


def trim_beats(notes, max_beat=MODEL_MAX_BEAT):
    """Validation: keep the notes on beats 0..max_beat-1."""
    notes = np.asarray(notes, np.int64).reshape(-1, 5)
    return notes[notes[:, 0] < max_beat]


def cap_length(codes, max_seq_len=MAX_SEQ_LEN):
    """At most max_seq_len rows: the first max_seq_len - 1 and the last (end-of-song)."""
    if len(codes) <= max_seq_len:
        return codes
    return np.concatenate([codes[: max_seq_len - 1], codes[-1:]])


def example_codes(notes, rng=None, max_beat=MODEL_MAX_BEAT, max_seq_len=MAX_SEQ_LEN, windows="reference"):
    """One model input: augmented when an rng is given, beat-trimmed otherwise."""
    if windows == "events":
        return event_window(notes, rng, max_beat, max_seq_len)
    if windows != "reference":
        raise ValueError(f"windows must be one of {WINDOWS}, got {windows!r}")
    notes = augment(notes, rng, max_beat) if rng is not None else trim_beats(notes, max_beat)
    return cap_length(encode_notes(notes), max_seq_len)


def event_window(notes, rng=None, max_beat=MODEL_MAX_BEAT, max_seq_len=MAX_SEQ_LEN):
    """The "events" window (module docstring): code rows of at most max_seq_len rows.

    With an rng: pitch shift, and the window starts at a note drawn uniformly from those that
    leave a full window (0 for a piece that fits); without: the first notes, unshifted. The
    notes kept are those from the start that fit in the rows left by SOS, their instrument rows
    and SON (beats as the module docstring says); end-of-song follows only if the last note of
    the piece is among them."""
    notes = np.array(notes, np.int64).reshape(-1, 5)
    if rng is not None and len(notes):
        shift = rng.integers(PITCH_SHIFTS[0], PITCH_SHIFTS[1] + 1)
        notes[:, 2] = np.clip(notes[:, 2] + shift, 0, 127)
    known = notes[PROGRAM_TO_INSTRUMENT[notes[:, 4]] > 0] if len(notes) else notes
    room = max_seq_len - 3  # SOS, SON and room for EOS
    n_inst = len(np.unique(PROGRAM_TO_INSTRUMENT[known[:, 4]])) if len(known) else 0
    fit = max(room - n_inst, 1)  # notes that fit beside every instrument row
    start = 0
    if rng is not None and len(known) > fit:
        start = int(rng.integers(len(known) - fit + 1))
    window = known[start:].copy()
    for _ in range(2):  # fewer notes may need fewer instrument rows: at most two passes
        n_inst = len(np.unique(PROGRAM_TO_INSTRUMENT[window[:, 4]])) if len(window) else 0
        window = window[: max(room - n_inst, 0)]
    if len(window):  # beats from 0, as the sampler re-bases a refilled window
        window[:, 0] -= window[0, 0]
        window = window[window[:, 0] < max_beat]
    ends = start + len(window) == len(known)
    codes = encode_notes(window)
    if not ends:
        codes = codes[:-1]  # no end-of-song: the piece goes on
    return codes


def collate(seqs, pad_to=MAX_SEQ_LEN, pad_multiple=64, max_len=None):
    """Right-pad code arrays with zero rows into one batch (see the module docstring).

    pad_to: a fixed length, or None for the longest sequence rounded up to pad_multiple (but
    not past max_len when given).
    """
    lengths = np.array([len(s) for s in seqs], np.int32)
    if pad_to is None:
        longest = int(lengths.max()) if len(seqs) else 0
        length = -(-longest // pad_multiple) * pad_multiple
        if max_len is not None:
            length = max(longest, min(length, max_len))
    else:
        length = int(pad_to)
        if len(seqs) and lengths.max() > length:
            raise ValueError(f"a sequence of {lengths.max()} rows does not fit pad_to={length}")
    codes = np.zeros((len(seqs), length, 6), np.int32)
    for i, seq in enumerate(seqs):
        codes[i, : len(seq)] = seq
    mask = np.arange(length)[None, :] < lengths[:, None]
    return {"codes": codes, "mask": mask, "seq_len": lengths}


def fill_rows(batch, rows):
    """Complete a short (last) batch with empty rows (mask all False), which every loss ignores."""
    have = len(batch["mask"])
    if have >= rows:
        return batch
    return {k: np.concatenate([v, np.zeros((rows - have,) + v.shape[1:], v.dtype)]) for k, v in batch.items()}


def _collate_filled(seqs, rows, **kwargs):
    batch = collate(seqs, **kwargs)
    return batch if rows is None else fill_rows(batch, rows)


def _process_rows(batch, start, stop):
    return {k: v[start:stop] for k, v in batch.items()}


def _train_example(notes, rng, max_beat, max_seq_len, windows):
    return example_codes(notes, rng, max_beat, max_seq_len, windows)


def _eval_example(notes, max_beat, max_seq_len, windows):
    return example_codes(notes, None, max_beat, max_seq_len, windows)


def make_dataset(
    data_dir,
    names,
    batch_size,
    *,
    train,
    seed=0,
    max_beat=MODEL_MAX_BEAT,
    max_seq_len=MAX_SEQ_LEN,
    pad_to="max_seq_len",
    pad_multiple=64,
    num_epochs=None,
    drop_remainder=None,
    fill_partial=False,
    process_index=0,
    process_count=1,
    use_csv=False,
    windows="reference",
):
    """A grain MapDataset of padded batches from a prepared folder.

    windows: "reference" or "events", how a piece becomes one sequence (module docstring).
    names: a list of names or the path of a names file (e.g. `<out>/train-names.txt`);
    data_dir: the folder holding `<name>.npy` (e.g. `<out>/notes`); batch_size: the global batch.
    Training shuffles (reshuffled each epoch), augments and repeats (`num_epochs` None =
    forever) and drops the last partial batch; validation keeps the file order, one epoch, no
    augmentation, and keeps the partial batch (topped up with empty rows with `fill_partial`).
    With `process_count` P > 1, process i gets rows [i*B/P, (i+1)*B/P) of the very global batch
    a 1-process run reads (padded to that whole batch's length), so a run's losses do not depend
    on how many hosts share it; every process reads and encodes the whole global batch (cheap
    next to a train step), and a short last batch is always filled so the rows split evenly.
    Iterate with `iter(ds.to_iter_dataset())`; that iterator has get_state()/set_state() for
    checkpoints.
    """
    import grain

    if not isinstance(names, (list, tuple)):
        names = read_names(names)
    if not names:
        raise UserError(f"no pieces listed for {data_dir}")
    if batch_size % process_count:
        raise UserError(f"batch size {batch_size} does not split over {process_count} processes")
    if windows not in WINDOWS:
        raise UserError(f"data.windows must be one of {', '.join(WINDOWS)}, got {windows!r}")
    if pad_to == "max_seq_len":
        pad_to = max_seq_len
    ds = grain.MapDataset.source(NotesSource(data_dir, names, use_csv))
    if train:
        ds = ds.shuffle(seed=seed).repeat(num_epochs)
        ds = ds.random_map(
            functools.partial(_train_example, max_beat=max_beat, max_seq_len=max_seq_len, windows=windows),
            seed=seed + 1,
        )
    else:
        ds = ds.repeat(num_epochs or 1, reseed_each_epoch=False)
        ds = ds.map(
            functools.partial(_eval_example, max_beat=max_beat, max_seq_len=max_seq_len, windows=windows)
        )
    if drop_remainder is None:
        drop_remainder = train
    fill = fill_partial or process_count > 1
    ds = ds.batch(
        batch_size,
        drop_remainder=drop_remainder,
        batch_fn=functools.partial(
            _collate_filled,
            rows=batch_size if fill else None,
            pad_to=pad_to,
            pad_multiple=pad_multiple,
            max_len=max_seq_len,
        ),
    )
    if process_count > 1:
        share = batch_size // process_count
        ds = ds.map(
            functools.partial(_process_rows, start=process_index * share, stop=(process_index + 1) * share)
        )
    return ds

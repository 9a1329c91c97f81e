"""Per-note model inputs (reference §3, §5), in NumPy.

Every array is per note in the piece's sorted order. Index-valued inputs are kept as integers so
that the model looks them up in its tables:

  pitch     q = MIDI pitch + 1 (0 = padding)     -> trainable 129x16 table, and the fixed
                                                    frequency table below
  time      onset in steps (raw)                 -> fixed sinusoidal 4097x16 at min(t, 4096)
  beat      min(t // 24, 4096)                   -> fixed sinusoidal 4097x16
  position  t % 24                               -> trainable 24x16
  duration  d (raw)                              -> trainable 193x16 at min(d, 192)
  entry hint  K channels, sign(i - first index of part k); zeros where part k is absent
  pitch hint  K values, round(mean of q over part k's notes); 0 where absent

The beat is always 24 steps long, whatever the dataset's time resolution.
"""

from __future__ import annotations

import numpy as np

BEAT_STEPS = 24
MAX_BEAT = 4096
MAX_TIME = 4096
MAX_DURATION = 192
NUM_PITCHES = 129  # 128 MIDI pitches + padding index 0
EMBED_DIM = 16
TRAIN_LENGTH = 500
EVAL_LENGTH = 2000
STRONG_TRANSPOSE = (-5, 6)
LIGHT_TRANSPOSE = (-1, 1)


def sinusoid_table(length, dim, start=0):
    """The Transformer's fixed table: angle(pos, i) = pos / 10000^(2*(i//2)/dim), sin on even
    columns and cos on odd columns (interleaved, not split in halves); rows start..start+length-1."""
    pos = np.arange(start, start + length, dtype=np.float64)[:, None]
    i = np.arange(dim)
    angle = pos / np.power(10000.0, 2 * (i // 2) / dim)
    return np.where(i % 2 == 0, np.sin(angle), np.cos(angle)).astype(np.float32)


def frequency_table():
    """Row 0 = 0 (padding); row q = the frequency of MIDI pitch q-1 over that of pitch 127."""
    midi = np.arange(-1, 128, dtype=np.float64)
    freq = 440.0 * np.power(2.0, (midi - 69) / 12) / (440.0 * 2.0 ** ((127 - 69) / 12))
    freq[0] = 0.0
    return freq.astype(np.float32)[:, None]


def first_indices(label, num_parts):
    """Index of each part's first note in the sorted sequence, -1 for an absent part."""
    label = np.asarray(label)
    out = np.full(num_parts, -1, np.int64)
    for k in range(num_parts):
        hits = np.flatnonzero(label == k)
        if len(hits):
            out[k] = hits[0]
    return out


def entry_hints(first, length, start=0, reference=False, training=False):
    """[length, K] hints for the notes start..start+length-1 of a piece whose parts first sound at
    `first` (from `first_indices`).

    Default (the paper's meaning): channel k = sign(note index - first[k]) using the note's index
    in the piece, zeros when part k is absent.
    reference=True reproduces the authors' code (reference §9.1-9.2): channel k carries part k-1's
    entry, channel 0 and the last part get none; the step is placed at the piece-level index as if
    the window began at note 0; an absent channel is zeros at test time but, when `training`, is
    treated as entering at index 0 (i.e. [0, +1, +1, ...]).
    """
    first = np.asarray(first, np.int64)
    k = len(first)
    if reference:
        first = np.concatenate([[-1], first[:-1]])  # channel i <- part i-1
        start = 0
        if training:
            first = np.where(first < 0, 0, first)
    index = np.arange(start, start + length)[:, None]
    hints = np.sign(index - first[None, :]).astype(np.int64)
    return np.where(first[None, :] < 0, 0, hints).reshape(length, k)


def pitch_hints(pitch, label, num_parts):
    """Per part, round(mean(pitch + 1)) over its notes; 0 for an absent part."""
    pitch, label = np.asarray(pitch), np.asarray(label)
    out = np.zeros(num_parts, np.int64)
    for k in range(num_parts):
        mask = label == k
        if mask.any():
            out[k] = int(np.round(np.mean(pitch[mask] + 1)))
    return out


def transpose(pitch, shift, reference_clip=False):
    """Shift MIDI pitches by `shift` semitones. Pitches pushed past 0..127 move an octave back in
    (the reference Transformer's rule). reference_clip=True reproduces the reference LSTM, which
    clips the *index* q = pitch+1 to 0..127, so a note can land on the padding index (reference §9.9);
    the result is then returned as q-1 (so -1 marks such a note)."""
    pitch = np.asarray(pitch, np.int64) + int(shift)
    if reference_clip:
        return np.clip(pitch + 1, 0, 127) - 1
    pitch = np.where(pitch > 127, pitch - 12, pitch)
    return np.where(pitch < 0, pitch + 12, pitch)


def note_inputs(time, pitch, duration):
    """The integer per-note inputs of a (part of a) piece: pitch index, time, beat, position and
    duration. Padding notes (pitch index 0) are added by `pad`."""
    time = np.asarray(time, np.int64)
    duration = np.asarray(duration, np.int64)
    return {
        "pitch": np.asarray(pitch, np.int64) + 1,
        "time": time,
        "beat": np.minimum(time // BEAT_STEPS, MAX_BEAT),
        "position": time % BEAT_STEPS,
        "duration": duration,
    }


def pad(inputs, length):
    """Right-pad every per-note array of a dict to `length` with zeros (pitch index 0 = padding)."""
    out = {}
    for key, value in inputs.items():
        if key == "pitch_hint":
            out[key] = value
            continue
        widths = [(0, length - len(value))] + [(0, 0)] * (value.ndim - 1)
        out[key] = np.pad(value, widths)
    return out


def piece_inputs(piece, num_parts, max_len=EVAL_LENGTH, reference_hints=False):
    """Model inputs and label+1 targets for a whole piece from its first note (evaluation), with
    oracle entry hints and pitch hints from the piece's own labels. max_len=None keeps every note."""
    n = len(piece) if max_len is None else min(len(piece), max_len)
    inputs = note_inputs(piece.time[:n], piece.pitch[:n], piece.duration[:n])
    inputs["entry_hint"] = entry_hints(
        first_indices(piece.label, num_parts), n, reference=reference_hints, training=False
    )
    inputs["pitch_hint"] = pitch_hints(piece.pitch, piece.label, num_parts)
    return inputs, piece.label[:n] + 1


def training_window(
    piece,
    num_parts,
    rng,
    length=TRAIN_LENGTH,
    transpose_range=STRONG_TRANSPOSE,
    reference_hints=False,
    reference_clip=False,
):
    """One training example (reference §5): a window of `length` consecutive notes starting at a
    uniform random note (from 0 when the piece is shorter), times kept absolute (not re-based),
    the whole window transposed by a uniform integer in `transpose_range` (None: no transposition),
    right-padded with zeros. Entry hints are relative to the piece (the fix of reference §9.2) unless
    `reference_hints`. Pitch hints follow the transposition."""
    n = len(piece)
    start = int(rng.integers(0, n - length + 1)) if n > length else 0
    end = min(n, start + length)
    shift = 0 if transpose_range is None else int(rng.integers(transpose_range[0], transpose_range[1] + 1))
    pitch = transpose(piece.pitch[start:end], shift, reference_clip)
    inputs = note_inputs(piece.time[start:end], pitch, piece.duration[start:end])
    inputs["entry_hint"] = entry_hints(
        first_indices(piece.label, num_parts), end - start, start, reference=reference_hints, training=True
    )
    hint = pitch_hints(piece.pitch, piece.label, num_parts)
    inputs["pitch_hint"] = np.where(hint > 0, np.clip(hint + shift, 1, 128), 0)
    return pad(inputs, length), np.pad(piece.label[start:end] + 1, (0, length - (end - start)))


def batch(examples):
    """Stack a list of (inputs, targets) pairs of equal length into batched arrays."""
    inputs = {key: np.stack([ex[0][key] for ex in examples]) for key in examples[0][0]}
    return inputs, np.stack([ex[1] for ex in examples])

"""Prompts for the three generation modes of the reference (reference mmt.md §4.1).

* unconditional: the SOS row alone;
* instrument-informed: SOS, one row per instrument (ascending code, as encoding sorts them), SON;
* N-beat continuation: SOS, the piece's full instrument list, SON and its notes on beats < N,
  read from a MIDI or MusicXML file through mmt_jax.notes and the codec (beats trimmed to the
  model's range, as the reference's test set is). A piece with no note on beat N or later gives
  all its rows but the EOS (the reference's prompt would be empty there).
"""

from __future__ import annotations

import numpy as np

from mmt_jax import codec
from music_codecs.errors import UserError

MODES = ("unconditional", "instrument", "continuation")
MIDI_DEFAULT_QPM = 120.0  # a MIDI file without a tempo event plays at 120 (the MIDI standard)


def _row(etype, instrument=0):
    return [etype, 0, 0, 0, 0, instrument]


def unconditional():
    """[[0, 0, 0, 0, 0, 0]]: start of song."""
    return np.array([_row(codec.SOS)], np.int64)


def instrument_informed(instruments):
    """SOS + instrument rows + SON, from names ("piano,violin") or codes."""
    if isinstance(instruments, str) or any(isinstance(i, str) for i in instruments):
        codes = codec.instrument_codes(instruments)
    else:
        codes = [int(c) for c in instruments]
        bad = [c for c in codes if not 1 <= c < len(codec.INSTRUMENT_NAMES)]
        if bad:
            raise UserError(f"instrument codes must lie in 1..{len(codec.INSTRUMENT_NAMES) - 1}, got {bad}")
    if not codes:
        raise UserError("no instruments given; known: " + ", ".join(codec.INSTRUMENT_CODES))
    rows = [_row(codec.SOS)] + [_row(codec.INSTRUMENT, c) for c in sorted(set(codes))]
    return np.array(rows + [_row(codec.SON)], np.int64)


def continuation_from_codes(codes, beats):
    """The rows before the first row whose beat code is >= beats + 1 (EOS never included)."""
    if beats < 0:
        raise UserError(f"--beats must be non-negative, got {beats}")
    codes = np.asarray(codes, np.int64).reshape(-1, 6)
    codes = (
        codes[: np.flatnonzero(codes[:, 0] == codec.EOS)[0]] if (codes[:, 0] == codec.EOS).any() else codes
    )
    later = np.flatnonzero(codes[:, 1] >= beats + 1)
    return codes[: later[0]] if len(later) else codes


def continuation(path, beats, max_beat=codec.MODEL_MAX_BEAT, timing=None):
    """The first `beats` beats of a MIDI/MusicXML file as a prompt (codes).

    timing: a dict that receives the prompt's "qpm" and "time_signature" (numerator,
    denominator) in effect at its first note (None where the file has none), so that the output
    can be written in the prompt's time."""
    from mmt_jax.notes import is_musicxml, read_table, table_to_notes

    table = read_table(path)
    if timing is not None:
        timing.update(table_timing(table))
        if timing["qpm"] is None and not is_musicxml(path):
            timing["qpm"] = MIDI_DEFAULT_QPM
    notes = table_to_notes(table, filters=False)
    if not len(notes):
        raise UserError(f"{path}: no notes the model can use (drums and dropped programs are removed)")
    notes = notes[notes[:, 0] < max_beat]
    return continuation_from_codes(codec.encode_notes(notes), beats)


def table_timing(table):
    """{"qpm": tempo, "time_signature": (n, d)} in effect at a table's first note (None if none)."""
    first = int(table.onset.min()) if len(table) else 0
    qpm, signature = None, None
    tempos = np.flatnonzero(table.tempo_tick <= first)
    if len(table.tempo_qpm):
        qpm = float(
            table.tempo_qpm[tempos[np.argmax(table.tempo_tick[tempos])]]
            if len(tempos)
            else table.tempo_qpm[0]
        )
    sigs = table.time_signatures
    if len(sigs):
        before = sigs[sigs[:, 0] <= first]
        row = before[np.argmax(before[:, 0])] if len(before) else sigs[0]
        signature = (int(row[1]), int(row[2]))
    return {"qpm": qpm, "time_signature": signature}


def build(mode, *, instruments=None, prompt=None, beats=4, timing=None):
    """The prompt of one mode from command-line style arguments (timing: see continuation)."""
    if mode == "unconditional":
        return unconditional()
    if mode == "instrument":
        if not instruments:
            raise UserError("--mode instrument needs --instruments, e.g. piano,violin,cello")
        return instrument_informed(instruments)
    if mode == "continuation":
        if not prompt:
            raise UserError("--mode continuation needs --prompt FILE (MIDI or MusicXML)")
        return continuation(prompt, beats, timing=timing)
    raise UserError(f"unknown mode {mode!r}; choose one of {', '.join(MODES)}")

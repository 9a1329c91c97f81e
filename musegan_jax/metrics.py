"""MuseGAN's objective metrics (reference §1.4), on binary phrases bool [N, bars, steps, 84, 5].

Every metric is computed per bar and per track, then averaged over bars:
  EB   empty bars: % of bars with no active cell.
  UPC  used pitch classes: distinct pitch classes active in a bar (0..12), over non-empty bars.
  QN   qualified notes: % of a bar's notes (runs of active steps of one pitch within the bar)
       at least `qn_threshold` steps long, over bars with notes.
  DP   drum pattern: per bar, max over the circular shifts s of sum(mask_s * drum onsets) / onsets,
       mask = 1 on the 16th-note grid, `dp_tolerance` one step either side (v1: [1, .3, 0, 0, 0, .3]
       per 16th at 96 steps), 0 elsewhere; in %, over bars with drum onsets.
  TD   tonal distance (Harte 2006) of track pairs: per beat, L1-normalised chroma projected by
       the 6 x 12 matrix PHI, Euclidean distance of the two tracks' 6-D vectors, averaged over
       beats where both tracks sound, then over bars.

Variants (VARIANTS): "paper" (default) = pitch class p mod 12, QN threshold 3 steps (the paper's
"no shorter than three time steps"), DP tolerance 0.3 (the v1 code); "released" = the released
code's chroma (84 pitches reshaped to 12 groups of 7 *adjacent* semitones, p // 7), QN threshold 2
and DP tolerance 0.1 (the later code), which the released evaluation actually computes.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from musegan_jax.config import SHORT, TRACKS

PAIRS = ("B-G", "B-S", "B-P", "G-S", "G-P", "S-P")
LETTER = {v: k for k, v in SHORT.items()}


@dataclasses.dataclass(frozen=True)
class Variant:
    chroma: str  # "mod12" | "adjacent"
    qn_threshold: int
    dp_tolerance: float


VARIANTS = {"paper": Variant("mod12", 3, 0.3), "released": Variant("adjacent", 2, 0.1)}


def pitch_classes(bar_pitch, chroma="mod12"):
    """[..., 84] counts -> [..., 12] chroma."""
    x = np.asarray(bar_pitch)
    n = x.shape[-1]
    if chroma == "adjacent":
        return x.reshape(*x.shape[:-1], 12, n // 12).sum(-1)
    pad = (-n) % 12
    x = np.concatenate([x, np.zeros((*x.shape[:-1], pad), x.dtype)], -1)
    return x.reshape(*x.shape[:-1], -1, 12).sum(-2)


def _bars(rolls):
    rolls = np.asarray(rolls, bool)
    if rolls.ndim == 4:
        rolls = rolls[None]
    return rolls.reshape(-1, *rolls.shape[2:])  # [bars, steps, 84, tracks]


def empty_bars(bars):
    """% empty, per track: [tracks]."""
    return 100.0 * np.mean(~bars.any(axis=(1, 2)), axis=0)


def used_pitch_classes(bars, chroma="mod12"):
    """Mean distinct pitch classes per non-empty bar, per track (NaN: no non-empty bar)."""
    pcs = (
        pitch_classes(bars.any(axis=1).transpose(0, 2, 1).astype(np.int32), chroma) > 0
    )  # [bars, tracks, 12]
    used = pcs.sum(-1).astype(float)
    used[~bars.any(axis=(1, 2))] = np.nan
    return _nanmean(used, 0)


def _nanmean(x, axis):
    x = np.asarray(x, float)
    count = np.sum(~np.isnan(x), axis=axis)
    total = np.nansum(x, axis=axis)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def note_lengths(bar_track):
    """Lengths of the runs of active steps of every pitch within one bar [steps, 84]."""
    padded = np.pad(bar_track, ((1, 1), (0, 0))).astype(np.int8)
    edges = np.diff(padded, axis=0)
    p_on, s_on = np.nonzero(edges.T == 1)
    _, s_off = np.nonzero(edges.T == -1)
    return s_off - s_on


def qualified_notes(bars, threshold=3):
    """% of notes at least `threshold` steps long per bar, averaged over bars with notes: [tracks]."""
    out = np.full((bars.shape[0], bars.shape[-1]), np.nan)
    for b in range(bars.shape[0]):
        for t in range(bars.shape[-1]):
            lengths = note_lengths(bars[b, :, :, t])
            if len(lengths):
                out[b, t] = 100.0 * np.mean(lengths >= threshold)
    return _nanmean(out, 0)


def drum_mask(steps, tolerance):
    period = steps // 16
    if steps % 16 or period < 1:
        raise ValueError(f"DP needs steps per bar divisible by 16 (16th-note grid), got {steps}")
    unit = np.zeros(period)
    unit[0] = 1.0
    if period > 1:
        unit[1] = unit[-1] = tolerance
    return np.tile(unit, 16)


def drum_pattern(bars, tolerance=0.3, track=0):
    """% drum pattern score (see the module docstring) averaged over bars with drum onsets."""
    steps = bars.shape[1]
    mask = drum_mask(steps, tolerance)
    period = steps // 16
    scores = []
    for b in range(bars.shape[0]):
        onsets = bars[b, :, :, track].sum(-1).astype(float)  # drums hold onsets only
        total = onsets.sum()
        if total == 0:
            continue
        scores.append(max(np.dot(np.roll(mask, s), onsets) for s in range(period)) / total)
    return 100.0 * float(np.mean(scores)) if scores else math.nan


PHI = np.array(
    [
        [r * f(k * a) for k in range(12)]
        for r, a in ((1.0, 7 * np.pi / 6), (1.0, 3 * np.pi / 2), (0.5, 2 * np.pi / 3))
        for f in (np.sin, np.cos)
    ]
)  # [6, 12]


def tonal_distance(bars, i, j, chroma="mod12"):
    """TD of tracks i and j (see the module docstring); NaN when they never sound together."""
    n_bars, steps = bars.shape[:2]
    beat = steps // 4

    def tonal(t):
        per_beat = bars[:, :, :, t].reshape(n_bars, 4, beat, -1).sum(2)  # [bars, 4, 84]
        c = pitch_classes(per_beat, chroma).astype(float)
        total = c.sum(-1, keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            c = np.where(total > 0, c / total, np.nan)
        return c @ PHI.T  # [bars, 4, 6]

    dist = np.linalg.norm(tonal(i) - tonal(j), axis=-1)  # NaN where a track is silent
    return float(_nanmean(_nanmean(dist, 1), 0))


@dataclasses.dataclass
class Result:
    eb: dict
    upc: dict
    qn: dict
    dp: float
    td: dict
    bars: int
    variant: str

    def flat(self):
        out = {f"EB_{SHORT[t]}": v for t, v in self.eb.items()}
        out.update({f"UPC_{SHORT[t]}": v for t, v in self.upc.items()})
        out.update({f"QN_{SHORT[t]}": v for t, v in self.qn.items()})
        out["DP_D"] = self.dp
        out.update({f"TD_{p}": v for p, v in self.td.items()})
        return {k: float(v) for k, v in out.items()}


def evaluate(rolls, beat_resolution=None, variant="paper") -> Result:
    """All metrics of phrases bool [N, bars, steps, 84, 5] (or one [bars, steps, 84, 5])."""
    v = VARIANTS[variant]
    bars = _bars(rolls)
    pitched = [t for t in TRACKS if t != "drums"]
    eb = empty_bars(bars)
    upc = used_pitch_classes(bars, v.chroma)
    qn = qualified_notes(bars, v.qn_threshold)
    td = {}
    for pair in PAIRS:
        a, b = (TRACKS.index(LETTER[x]) for x in pair.split("-"))
        td[pair] = tonal_distance(bars, a, b, v.chroma)
    return Result(
        eb={t: float(eb[i]) for i, t in enumerate(TRACKS)},
        upc={t: float(upc[TRACKS.index(t)]) for t in pitched},
        qn={t: float(qn[TRACKS.index(t)]) for t in pitched},
        dp=drum_pattern(bars, v.dp_tolerance, TRACKS.index("drums")),
        td=td,
        bars=int(bars.shape[0]),
        variant=variant,
    )

"""Rule-based baselines (reference §7.1-7.3), in NumPy: most-common label, keyboard zones with learnt
split points, and closest pitch (plain and monophonic) driven by entry hints.

All work on notes in the sorted piece order and return part indices 0..K-1.
"""

from __future__ import annotations

import itertools

import numpy as np

# --- most-common label ----------------------------------------------------------------------------


def learn_most_common(labels, num_parts):
    """The part with the most notes over all given label arrays."""
    counts = sum(np.bincount(np.asarray(lab), minlength=num_parts)[:num_parts] for lab in labels)
    return int(np.argmax(counts))


def predict_constant(num_notes, part):
    return np.full(num_notes, part, np.int64)


# --- zone-based -------------------------------------------------------------------------------------


def pitch_histograms(pitches, labels, num_parts):
    """[K, 128] note counts per part and pitch, summed over pieces."""
    counts = np.zeros((num_parts, 128), np.int64)
    for pitch, label in zip(pitches, labels):
        np.add.at(counts, (np.asarray(label), np.asarray(pitch)), 1)
    return counts


def _best_boundaries(counts, order):
    """For parts `order` (top zone first): the best score and the lexicographically smallest
    non-increasing boundaries (b_1 >= ... >= b_{K-1}, each in 0..127) reaching it.

    Dynamic programme over zones from the bottom: best[j][u] = the most notes that parts
    order[j:] can own in [0, u). It finds what the reference's exhaustive search finds (its first
    strict maximum in lexicographic order) in O(K * 128^2)."""
    k = len(order)
    cum = np.concatenate([np.zeros((len(counts), 1), np.int64), np.cumsum(counts, 1)], 1)  # [K, 129]
    best = [None] * k
    best[k - 1] = cum[order[k - 1]].copy()  # the bottom part owns [0, u)
    u = np.arange(129)[:, None]
    b = np.arange(128)[None, :]
    for j in range(k - 2, -1, -1):
        c = cum[order[j]]
        # part order[j] owns [b, u), the parts below it [0, b); b <= u (and b <= 127)
        total = np.where(b <= u, c[u] - c[b] + best[j + 1][b], -1)
        best[j] = total.max(1)
    bounds, upper = [], 128
    for j in range(k - 1):
        c = cum[order[j]]
        cand = np.arange(min(upper, 127) + 1)
        scores = c[upper] - c[cand] + best[j + 1][cand]
        target = best[j][upper]
        choice = int(cand[np.flatnonzero(scores == target)[0]])
        bounds.append(choice)
        upper = choice
    return int(best[0][128]), tuple(bounds)


def learn_zones(counts, permutation=False):
    """Zone setting (boundaries, order) maximising the notes that fall in their own part's zone.
    `order[z]` is the part owning zone z counted from the top. With permutation=False only the
    label order (top zone = part 0) is tried; ties keep the earliest boundaries, then the earliest
    permutation, as the reference's search does."""
    counts = np.asarray(counts)
    k = len(counts)
    orders = list(itertools.permutations(range(k))) if permutation else [tuple(range(k))]
    best = None
    for order in orders:
        score, bounds = _best_boundaries(counts, order)
        key = (-score, bounds)
        if best is None or key < best[0]:
            best = (key, bounds, order)
    return best[1], best[2]


def predict_zones(pitch, boundaries, order):
    """Each note gets the part whose zone holds its pitch (zone = how many boundaries exceed it)."""
    pitch = np.asarray(pitch)
    zone = (np.asarray(boundaries)[None, :] > pitch[:, None]).sum(1) if len(boundaries) else 0
    return np.asarray(order)[zone]


# --- closest pitch ------------------------------------------------------------------------------------

_NOT_ENTERED = -99999
_BUSY = 99999
_FORCED = 99999
_NOT_ENTERED_MONO = -9999999


def _plain_group(pitch, group, first, last_pitch):
    """Each note of the group independently takes the part with the closest last pitch."""
    out = []
    for i in group:
        if i in first:
            out.append(first.index(i))
            continue
        score = -np.square(last_pitch - pitch[i])
        for k, f in enumerate(first):
            if f is None or i < f:
                score[k] = _NOT_ENTERED
        out.append(int(np.argmax(score)))
    return out


def _mono_group(pitch, group, first, last_pitch, busy):
    """Distinct parts for the group's notes, maximising the summed score (ties: last found)."""
    k = len(first)
    scores = np.zeros((len(group), k), np.int64)
    for row, i in enumerate(group):
        if i in first:
            scores[row, first.index(i)] = _FORCED
            continue
        scores[row] = -np.square(last_pitch - pitch[i]) - _BUSY * busy
        for j, f in enumerate(first):
            if f is None or i < f:
                scores[row, j] = _NOT_ENTERED_MONO
    best, choice = None, None
    rows = np.arange(len(group))
    for perm in itertools.permutations(range(k), len(group)):
        total = scores[rows, perm].sum()
        if best is None or total >= best:
            best, choice = total, perm
    return list(choice)


def closest_pitch(time, pitch, duration, first, num_parts, mono=False):
    """Closest-pitch labelling of a sorted piece (reference §7.3). `first[k]` is the index of part k's
    first note (oracle entry hints; -1 or None when absent): that note is forced to part k, and no
    note before it may take part k. Notes are decided one onset group at a time; mono=True
    additionally keeps each part monophonic while a group has at most K notes."""
    time, pitch, duration = (np.asarray(a, np.int64) for a in (time, pitch, duration))
    first = [None if f is None or f < 0 else int(f) for f in first]
    pred = np.zeros(len(time), np.int64)
    last_pitch = np.array([pitch[f] if f is not None else 0 for f in first], np.int64)
    end = np.zeros(num_parts, np.int64)  # when each part's last note ends (mono)
    starts = np.flatnonzero(np.diff(time, prepend=time[:1] - 1))
    bounds = list(starts) + [len(time)]
    for a, b in zip(bounds[:-1], bounds[1:]):
        group = list(range(a, b))
        if mono and len(group) <= num_parts:
            end[end <= time[a]] = 0
            labels = _mono_group(pitch, group, first, last_pitch, end > 0)
            for i, lab in zip(group, labels):
                pred[i] = lab
                last_pitch[lab] = pitch[i]
                end[lab] = time[i] + duration[i]
        else:
            labels = _plain_group(pitch, group, first, last_pitch)
            for i, lab in zip(group, labels):
                pred[i] = lab
                last_pitch[lab] = pitch[i]
    return pred

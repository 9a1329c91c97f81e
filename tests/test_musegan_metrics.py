"""MuseGAN's metrics on hand-made piano-rolls against hand-computed values, in both variants."""

import math

import numpy as np
import pytest

from musegan_jax import metrics as M
from musegan_jax.config import TRACKS

D, P, G, B, S = (TRACKS.index(t) for t in ("drums", "piano", "guitar", "bass", "strings"))


def _phrase(bars=1, steps=96):
    return np.zeros((1, bars, steps, 84, 5), bool)


def test_empty_bars_per_track():
    x = _phrase(bars=4)
    x[0, 0, 0, 10, P] = True  # piano sounds in 1 of 4 bars
    x[0, :3, 5, 10, B] = True  # bass in 3 of 4
    r = M.evaluate(x)
    assert r.eb["piano"] == 75.0 and r.eb["bass"] == 25.0 and r.eb["drums"] == 100.0


def test_used_pitch_classes_and_the_released_chroma():
    x = _phrase(bars=2)
    scale = [0, 2, 4, 5, 7, 9, 11]  # C major from C1 (index 0 = MIDI 24)
    x[0, 0, 0, scale, P] = True
    x[0, 1, 0, [12, 13], P] = True  # C2 + C#2
    x[0, 0, 0, [0, 12, 24], G] = True  # three octaves of C: one pitch class
    paper, released = M.evaluate(x), M.evaluate(x, variant="released")
    assert paper.upc["piano"] == (7 + 2) / 2
    # released: p // 7 groups -> the scale spans groups {0, 1}, C2+C#2 (12, 13) group {1}
    assert released.upc["piano"] == (2 + 1) / 2
    assert paper.upc["guitar"] == 1 and released.upc["guitar"] == 3  # 0, 12, 24 -> groups 0, 1, 3
    assert math.isnan(paper.upc["bass"])  # no non-empty bar


def test_qualified_notes_thresholds():
    x = _phrase()
    for k, length in enumerate((1, 2, 3, 4)):
        x[0, 0, 10 * k : 10 * k + length, 30, P] = True
    x[0, 0, 60:62, 30, P] = True  # a fifth note of 2 steps
    assert M.evaluate(x).qn["piano"] == pytest.approx(100 * 2 / 5)  # >= 3 steps
    assert M.evaluate(x, variant="released").qn["piano"] == pytest.approx(100 * 4 / 5)  # >= 2


def test_drum_pattern_grid_tolerance_and_shift():
    x = _phrase(bars=2)
    x[0, 0, [0, 1, 3], 10, D] = True  # on the grid, one step off, three steps off
    x[0, 1, [1, 7, 13], 10, D] = True  # the 16th grid shifted by one step: fully in pattern
    paper = (100 * (1 + 0.3 + 0) / 3 + 100.0) / 2
    released = (100 * (1 + 0.1 + 0) / 3 + 100.0) / 2
    assert M.evaluate(x).dp == pytest.approx(paper)
    assert M.evaluate(x, variant="released").dp == pytest.approx(released)
    assert math.isnan(M.evaluate(_phrase()).dp)


def test_tonal_distance_by_hand():
    x = _phrase()
    x[0, 0, :, 0, B] = True  # C held the whole bar
    x[0, 0, :, 7, G] = True  # G
    x[0, 0, :, [0, 4, 7], P] = True
    x[0, 0, :, [0, 4, 7], S] = True  # the same C major triad: distance 0
    r = M.evaluate(x)
    # Phi columns for pitch classes 0 (C) and 7 (G), by hand
    c = np.array([0.0, 1.0, 0.0, 1.0, 0.0, 0.5])
    g = np.array([0.5, math.sqrt(3) / 2, 1.0, 0.0, 0.5 * math.sqrt(3) / 2, -0.25])
    assert r.td["B-G"] == pytest.approx(np.linalg.norm(c - g), abs=1e-9)
    assert r.td["S-P"] == pytest.approx(0.0, abs=1e-12)
    assert 0 < r.td["B-P"] < r.td["B-G"]
    # the released chroma maps C (0) to group 0 and G (7) to group 1: another distance
    c1 = np.array([0.0, 1.0, 0.0, 1.0, 0.0, 0.5])
    g1 = np.array([-0.5, -math.sqrt(3) / 2, -1.0, 0.0, 0.5 * math.sqrt(3) / 2, -0.25])  # angle 1 step
    assert M.evaluate(x, variant="released").td["B-G"] == pytest.approx(np.linalg.norm(c1 - g1), abs=1e-9)
    # beats where one track is silent do not count; a silent pair is NaN
    assert math.isnan(r.td["B-S"] * 0 + M.tonal_distance(M._bars(x), D, B))


def test_pitch_classes_variants():
    counts = np.zeros(84)
    counts[[0, 1, 13, 83]] = 1
    assert M.pitch_classes(counts).tolist() == [1, 2] + [0] * 9 + [1]
    assert M.pitch_classes(counts, "adjacent").tolist() == [2, 1] + [0] * 9 + [1]

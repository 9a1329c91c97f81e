"""Every metric against values worked out by hand on tiny pieces."""

import math

import numpy as np
import pytest

from music_codecs import metrics
from music_codecs.note_table import NoteTable

C_MAJOR = [60, 62, 64, 65, 67, 69, 71]


def piece(notes, resolution=4):
    """notes: (onset, duration, pitch[, is_drum])."""
    notes = [tuple(n) + (False,)[len(n) - 3 :] for n in notes]
    n = len(notes)
    return NoteTable(
        resolution,
        [x[0] for x in notes],
        [x[1] for x in notes],
        [x[2] for x in notes],
        [64] * n,
        [0] * n,
        [x[3] for x in notes],
        [int(x[3]) for x in notes],
    )


def scale(pitches, drums=()):
    return piece([(i, 1, p) for i, p in enumerate(pitches)] + [(0, 1, d, True) for d in drums])


def test_pitch_class_entropy():
    assert metrics.pitch_class_entropy(scale(C_MAJOR, drums=[36, 38])) == pytest.approx(math.log2(7))
    # counts C:2, E:1, G:1 -> p = (1/2, 1/4, 1/4) -> 1.5 bits; the octave folds into C
    assert metrics.pitch_class_entropy(scale([60, 72, 64, 67])) == pytest.approx(1.5)
    assert math.isnan(metrics.pitch_class_entropy(scale([], drums=[36])))


def test_scale_consistency():
    assert metrics.scale_consistency(scale(C_MAJOR)) == 1.0
    # C major plus F#: best scales (C major or G major) hold 7 of 8 notes
    assert metrics.scale_consistency(scale(C_MAJOR + [66])) == pytest.approx(7 / 8)
    # A natural minor = C major's notes; C harmonic-minor notes C D Eb F G Ab B: 6 of 7 in C minor
    assert metrics.scale_consistency(scale([60, 62, 63, 65, 67, 68, 71])) == pytest.approx(6 / 7)
    assert metrics.scale_consistency(scale([61], drums=[60, 62])) == 1.0  # drums ignored
    assert math.isnan(metrics.scale_consistency(scale([])))


def test_groove_consistency():
    # measure of 4 ticks; onsets 0, 4, 8 and end 9 -> 9 // 4 + 1 = 3 measures, all [1,0,0,0]
    assert metrics.groove_consistency(piece([(0, 1, 60), (4, 1, 60), (8, 1, 60)]), 4) == 1.0
    # onsets 0 and 5, end 6 -> 2 measures [1000] vs [0100]: 2 differing positions of 4
    assert metrics.groove_consistency(piece([(0, 1, 60), (5, 1, 60)]), 4) == 0.5
    # muspy's count: ending exactly on the bar line (end 8) adds an empty third measure:
    # [1000] [1000] [0000] -> 1 - 1 / (4 * 2)
    assert metrics.groove_consistency(piece([(0, 1, 60), (4, 4, 60)]), 4) == pytest.approx(7 / 8)
    # drums count: a drum onset at 6 changes measure 2
    assert metrics.groove_consistency(piece([(0, 1, 60), (4, 1, 60), (6, 1, 36, True)]), 4) == 0.75
    assert math.isnan(metrics.groove_consistency(piece([(0, 2, 60)]), 4))
    assert math.isnan(metrics.groove_consistency(NoteTable.empty(4), 4))


def test_polyphony():
    # C 0-4, E 0-2, G 2-4 -> two pitches at each of 4 ticks; drums and a doubled C do not count
    notes = [(0, 4, 60), (0, 2, 64), (2, 2, 67), (1, 2, 60), (0, 4, 36, True)]
    assert metrics.polyphony(piece(notes)) == 2.0
    # C 0-4, E 0-2, silence 4-6, D 6-8: (2+2+1+1+1+1) / 6 sounding ticks
    assert metrics.polyphony(piece([(0, 4, 60), (0, 2, 64), (6, 2, 62)])) == pytest.approx(8 / 6)
    assert math.isnan(metrics.polyphony(piece([(0, 4, 36, True)])))


def test_pitch_range_and_pitch_classes():
    assert metrics.pitch_range(scale(C_MAJOR + [72], drums=[35, 81])) == 12
    assert metrics.pitch_range(scale([], drums=[36, 38])) == 0  # muspy: -127
    assert metrics.n_pitch_classes_used(scale(C_MAJOR + [72, 84], drums=[61])) == 7
    assert metrics.n_pitch_classes_used(scale([])) == 0


def test_empty_beat_rate():
    # resolution 4; notes sound in beats 0 and 3 of a 4-beat piece: half the beats empty
    # (muspy: 0.2, from a phantom fifth beat and the note ending on the line marking beat 4)
    assert metrics.empty_beat_rate(piece([(0, 4, 60), (12, 4, 62)])) == 0.5
    # a note from tick 2 to 9 occupies beats 0, 1, 2; a drum in beat 4 counts; beat 3 empty
    assert metrics.empty_beat_rate(piece([(2, 7, 60), (17, 2, 36, True)])) == pytest.approx(1 / 5)
    # a zero-length note marks its onset's beat: beats 0 and 2 of 3
    assert metrics.empty_beat_rate(piece([(1, 0, 60), (8, 4, 60)])) == pytest.approx(1 / 3)
    assert math.isnan(metrics.empty_beat_rate(NoteTable.empty(4)))


def test_mean_ci95():
    mean, half = metrics.mean_ci95([1.0, 2.0, 3.0, float("nan")])
    # t(0.975, 2) = 4.3027; s = 1; half = 4.3027 / sqrt(3)
    assert mean == 2.0 and half == pytest.approx(2.48414, abs=1e-5)
    assert metrics.mean_ci95([5.0])[0] == 5.0 and math.isnan(metrics.mean_ci95([5.0])[1])
    assert all(math.isnan(v) for v in metrics.mean_ci95([float("nan")]))
    assert metrics.mean_ci95(np.array([2.0, 2.0]))[1] == 0.0

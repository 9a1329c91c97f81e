"""Piano-roll arrays and pictures; WAV rendering by FluidSynth and by the sine fallback."""

import matplotlib.image
import numpy as np
import pytest
import soundfile

from music_codecs import render
from music_codecs.errors import UserError
from music_codecs.note_table import NoteTable
from music_codecs.pianoroll import save_pianoroll_png, to_pianoroll, track_label


def two_tracks():
    # track 0: C4 for a beat, repeated C4 overlapping; track 1: drums; 4 ticks per quarter
    return NoteTable(
        4,
        [0, 2, 4, 0],
        [4, 4, 0, 1],
        [60, 60, 62, 36],
        [80, 80, 80, 100],
        [0, 0, 0, 0],
        [False, False, False, True],
        [0, 0, 0, 1],
        tempo_tick=[0],
        tempo_qpm=[120.0],
        track_names=("piano", ""),
    )


def test_pianoroll_array():
    roll = to_pianoroll(two_tracks())
    assert roll.shape == (2, 6, 128) and roll.dtype == bool
    assert roll[0, :, 60].tolist() == [True] * 6  # overlapping notes of one pitch merge
    assert not roll[0, :, 62].any()  # zero-length note leaves no mark
    assert roll[1, :, 36].tolist() == [True, False, False, False, False, False]
    assert roll.sum() == 7
    coarse = to_pianoroll(two_tracks(), resolution=2)  # onset 2 -> 1, end 6 -> 3
    assert coarse.shape == (2, 3, 128) and coarse[0, :, 60].all()


def test_pianoroll_png(tmp_path):
    path = save_pianoroll_png(two_tracks(), tmp_path / "roll.png", title="two tracks")
    image = matplotlib.image.imread(path)
    assert image.shape[0] > 100 and image.shape[1] > 100
    assert image[..., :3].std() > 0.01  # something was drawn
    assert track_label(0, False, "piano") == "piano (Acoustic Grand Piano)"
    assert track_label(0, True) == "Drums"


def test_sine_fallback_writes_the_piece(tmp_path):
    path = tmp_path / "sine.wav"
    used = render.render_wav(two_tracks(), path, sample_rate=8000, renderer="sine")
    assert used == "sine"
    audio, rate = soundfile.read(path)
    assert rate == 8000
    # notes sound in the first 0.75 s (6 ticks, 4 per quarter, 120 qpm); pretty_midi adds 1 s
    assert 0.75 <= len(audio) / rate <= 2.0
    assert np.abs(audio[: rate // 2]).max() > 0.5 and np.abs(audio[-rate // 4 :]).max() < 1e-3


def test_forcing_missing_fluidsynth_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr(render.shutil, "which", lambda name: None)
    assert render.fluidsynth_available()[0] is False
    with pytest.raises(UserError, match="fluidsynth"):
        render.render_wav(two_tracks(), tmp_path / "x.wav", renderer="fluidsynth")
    assert render.render_wav(two_tracks(), tmp_path / "auto.wav", sample_rate=8000) == "sine"


def test_fluidsynth_renders_when_installed(tmp_path):
    ok, detail = render.fluidsynth_available()
    if not ok:
        pytest.skip(f"FluidSynth path not tested: {detail}")
    path = tmp_path / "fs.wav"
    assert render.render_wav(two_tracks(), path, sample_rate=22050) == "fluidsynth"
    audio, rate = soundfile.read(path)
    assert rate == 22050 and len(audio) >= 0.75 * rate
    assert np.abs(audio).max() > 0.01

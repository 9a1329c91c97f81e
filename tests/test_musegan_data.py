"""Phrase datasets: MIDI folders by the LPD-5 rule, LPD-style .npz, MuseGAN's phrase files,
bad files skipped and named, and the built-in corpus' voice rule."""

import json
from pathlib import Path

import numpy as np
import pytest

from musegan_jax import data
from musegan_jax.config import TRACKS
from musegan_jax.families import lpd5_family, voice_family
from music_codecs.errors import UserError
from music_codecs.midi_write import write_midi
from music_codecs.note_table import NoteTable


def test_family_rules():
    assert [lpd5_family(p, False) for p in (0, 7, 8, 24, 33, 40, 52, 80)] == [
        "piano", "piano", "strings", "guitar", "bass", "strings", "strings", "strings"
    ]  # fmt: skip
    assert lpd5_family(33, True) == "drums"
    assert [voice_family(n, 52, False) for n in ("Soprano", "Alto", "Tenor", "Bass", "Violin")] == [
        "piano", "guitar", "strings", "bass", "strings"
    ]  # fmt: skip


def _piece(bars=8):
    # one bar = 4 quarters at 12 ticks; a note per beat on bass (program 33), piano (0), drums
    beats = np.arange(4 * bars)
    n = len(beats)
    return NoteTable(
        12,
        np.concatenate([beats * 12] * 3),
        np.concatenate([np.full(n, 12), np.full(n, 6), np.full(n, 3)]),
        np.concatenate([np.full(n, 40), np.full(n, 64), np.full(n, 36)]),
        np.full(3 * n, 90),
        np.concatenate([np.full(n, 33), np.full(n, 0), np.full(n, 0)]),
        np.concatenate([np.zeros(2 * n, bool), np.ones(n, bool)]),
        np.repeat([0, 1, 2], n),
        time_signatures=[(0, 4, 4)],
        track_names=("Bass", "Keys", "Kit"),
    )


def test_midi_folder_to_phrases_skips_bad_files(tmp_path):
    folder = tmp_path / "midi"
    folder.mkdir()
    write_midi(_piece(), folder / "good.mid")
    write_midi(_piece().replace(time_signatures=[(0, 3, 4)]), folder / "waltz.mid")
    (folder / "broken.mid").write_bytes(b"not midi")
    phrases, report = data.prepare(folder, beat_resolution=12, progress=False)
    assert phrases.shape == (2, 4, 48, 84, 5)
    assert sorted(Path(name).name for name, _ in report["skipped"]) == ["broken.mid", "waltz.mid"]
    bar = phrases[0, 0]
    assert np.flatnonzero(bar[:, 40 - 24, TRACKS.index("bass")]).tolist() == [
        s for b in range(4) for s in range(12 * b, 12 * b + 11)
    ]
    assert np.flatnonzero(bar[:, 36 - 24, TRACKS.index("drums")]).tolist() == [0, 12, 24, 36]
    assert bar[:, 64 - 24, TRACKS.index("piano")].sum() == 4 * 5
    out = data.save_phrases(tmp_path / "p.npz", phrases, 12, report)
    back, info = data.load_phrases(out)
    assert np.array_equal(back, phrases) and info["beat_resolution"] == 12 and info["skipped"] == 2


def test_lpd_npz_and_musegan_phrase_files(tmp_path):
    folder = tmp_path / "lpd"
    folder.mkdir()
    roll = np.zeros((96 * 4, 128), np.uint8)
    roll[0:24, 60] = 100  # one quarter note at 24 steps per beat, velocity 100
    drums = np.zeros_like(roll)
    drums[0:6, 36] = 80
    info = {
        "beat_resolution": 24,
        "0": {"program": 0, "is_drum": True},
        "1": {"program": 0, "is_drum": False},
    }
    np.savez(folder / "song.npz", pianoroll_0=drums, pianoroll_1=roll, **{"info.json": json.dumps(info)})
    phrases, report = data.prepare(folder, beat_resolution=24, progress=False)
    assert phrases.shape == (1, 4, 96, 84, 5) and not report["skipped"]
    assert phrases[0, 0, :, 60 - 24, TRACKS.index("piano")].sum() == 23  # the rest step
    assert np.flatnonzero(phrases[0, 0, :, 36 - 24, 0]).tolist() == [0]  # drum onset only
    # MuseGAN's own training file: a sparse `shape` + `nonzero`
    dense = np.zeros((3, 4, 48, 84, 5), bool)
    dense[1, 2, 3, 4, 0] = dense[2, 0, 0, 10, 3] = True
    np.savez(tmp_path / "train_x.npz", shape=np.array(dense.shape), nonzero=np.array(np.nonzero(dense)))
    got, info = data.load_phrases(tmp_path / "train_x.npz")
    assert np.array_equal(got, dense) and info["beat_resolution"] == 12
    with pytest.raises(UserError, match="no phrase file"):
        data.load_phrases(tmp_path / "missing.npz")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(UserError, match="no .mid"):
        data.prepare(empty, progress=False)


def test_cli_help_lists_every_subcommand_without_jax():
    import subprocess
    import sys

    from musegan_jax import cli

    code = (
        "import sys; from musegan_jax import cli; from train_kit.cli import build_parser; "
        "build_parser('musegan-jax', '', cli.COMMANDS).print_help(); assert 'jax' not in sys.modules"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert all(name in out for name in cli.COMMANDS) and "usage:" in out

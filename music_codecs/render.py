"""Render a note table to a WAV file: FluidSynth with a General MIDI soundfont where installed,
else pretty_midi's sine-wave synthesis. The caller is told which one played."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from music_codecs.errors import UserError
from music_codecs.note_table import NoteTable

log = logging.getLogger(__name__)

# Debian's fluid-soundfont-gm, then the alternatives link, then TimGM6mb (fluidsynth's own
# dependency), then the copy of TimGM6mb inside the pretty_midi wheel.
SOUNDFONTS = (
    "/usr/share/sounds/sf2/FluidR3_GM.sf2",
    "/usr/share/sounds/sf2/default-GM.sf2",
    "/usr/share/sounds/sf2/TimGM6mb.sf2",
)
RENDERERS = ("auto", "fluidsynth", "sine")


def find_soundfont():
    """The first General MIDI soundfont found (MUSIC_SOUNDFONT overrides), or None."""
    candidates = [os.environ.get("MUSIC_SOUNDFONT", ""), *SOUNDFONTS]
    try:
        import pretty_midi

        candidates.append(str(Path(pretty_midi.__file__).parent / "TimGM6mb.sf2"))
    except ImportError:
        pass
    return next((c for c in candidates if c and Path(c).is_file()), None)


def fluidsynth_available():
    """(True, soundfont) when the fluidsynth program and a soundfont exist, else (False, why)."""
    if shutil.which("fluidsynth") is None:
        return False, "the fluidsynth program is not installed (Debian: apt-get install fluidsynth)"
    soundfont = find_soundfont()
    if soundfont is None:
        return False, "no General MIDI soundfont found"
    return True, soundfont


def render_wav(table: NoteTable, path, sample_rate=22050, renderer="auto") -> str:
    """Write `table` as a WAV file; returns the renderer used: "fluidsynth" or "sine".

    renderer="auto" takes FluidSynth when available; "sine" forces the fallback;
    "fluidsynth" raises UserError when it is missing.
    """
    if renderer not in RENDERERS:
        raise ValueError(f"renderer must be one of {RENDERERS}, got {renderer!r}")
    from music_codecs.midi_write import write_midi

    ok, detail = fluidsynth_available()
    if renderer == "fluidsynth" and not ok:
        raise UserError(f"cannot render with FluidSynth: {detail}")
    from music_codecs.atomic import atomic_path

    # the WAV appears only when complete: a full disk mid-render leaves the old one (or none)
    with tempfile.TemporaryDirectory() as tmp, atomic_path(path) as wav:
        midi_path = write_midi(table, Path(tmp) / "piece.mid")
        if renderer != "sine" and ok:
            _fluidsynth(midi_path, wav, sample_rate, detail)
            used = "fluidsynth"
        else:
            _sine(midi_path, wav, sample_rate)
            used = "sine"
    log.info("rendered %s with %s", path, used if used == "sine" else f"fluidsynth ({detail})")
    return used


def _fluidsynth(midi_path, wav_path, sample_rate, soundfont):
    command = [
        "fluidsynth",
        "-ni",
        "-q",
        "-g",
        "0.5",
        "-r",
        str(int(sample_rate)),
        "-F",
        str(wav_path),
        soundfont,
        str(midi_path),
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600)
    if result.returncode != 0 or not Path(wav_path).is_file():
        raise UserError(f"fluidsynth failed: {(result.stderr or result.stdout).strip()[:300]}")


def _sine(midi_path, wav_path, sample_rate):
    import pretty_midi
    import soundfile

    audio = pretty_midi.PrettyMIDI(str(midi_path)).synthesize(fs=int(sample_rate))
    peak = np.abs(audio).max() if audio.size else 0.0
    if peak > 0:
        audio = 0.9 * audio / peak
    soundfile.write(str(wav_path), audio.astype(np.float32), int(sample_rate), subtype="PCM_16")


def describe_renderer(used: str) -> str:
    """A line for the command line: which renderer made the WAV files, and why sine if so."""
    if used == "fluidsynth":
        return f"FluidSynth with {find_soundfont()}"
    ok, why = fluidsynth_available()
    return "sine tones (pretty_midi's fallback: " + ("asked for" if ok else why) + ")"

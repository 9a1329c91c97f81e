"""MuseGAN-style piano-roll pictures: one panel per track, bars marked."""

from __future__ import annotations

import numpy as np

from musegan_jax.config import LOWEST_PITCH, TRACKS


def save_tracks_png(roll, beat_resolution, path, title=None, dpi=110):
    """roll bool [bars, steps, 84, tracks] (or [steps, 84, tracks]) -> a PNG; returns the path."""
    from matplotlib.figure import Figure

    roll = np.asarray(roll, bool)
    if roll.ndim == 4:
        roll = roll.reshape(-1, *roll.shape[2:])
    steps = roll.shape[0]
    bar = 4 * beat_resolution
    fig = Figure(figsize=(max(6, steps / bar * 1.6), 1.3 * roll.shape[2] + 0.6))
    axes = fig.subplots(roll.shape[2], 1, sharex=True, squeeze=False)[:, 0]
    for i, ax in enumerate(axes):
        ax.imshow(
            roll[:, :, i].T,
            aspect="auto",
            origin="lower",
            cmap="Greys",
            interpolation="nearest",
            extent=[0, steps / bar, LOWEST_PITCH, LOWEST_PITCH + roll.shape[1]],
            vmin=0,
            vmax=1,
        )
        used = np.flatnonzero(roll[:, :, i].any(0))
        if len(used):  # zoom on the pitches the track uses
            ax.set_ylim(LOWEST_PITCH + max(used[0] - 3, 0), LOWEST_PITCH + min(used[-1] + 4, roll.shape[1]))
        for b in range(1, steps // bar):
            ax.axvline(b, color="tab:red", lw=0.6, alpha=0.5)
        ax.set_ylabel(TRACKS[i].capitalize(), rotation=0, ha="right", va="center")
    axes[-1].set_xlabel("bars")
    if title:
        axes[0].set_title(title)
    fig.tight_layout()
    from music_codecs.atomic import atomic_path

    with atomic_path(path) as tmp:  # whole files only, even on a full disk
        fig.savefig(tmp, dpi=dpi)
    return str(path)

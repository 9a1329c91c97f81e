"""Small synthetic audio-visual clips: a coloured shape on screen, a tone whose pitch is the colour's.

The embedded default dataset and the test fixture. Each class is a colour paired with one pitch
(a harmonic tone), so a model that learned "what this picture sounds like" must pick the pitch from
the colour; shape, position, size and background vary and carry no audio information.

    write_dataset(out_dir, n_clips=64, seed=0)   # out_dir/clip_00000.mp4 ... + labels.csv
    CLASSES                                      # (name, rgb, frequency in Hz)
"""

from __future__ import annotations

import csv
import os

import numpy as np

from clipsonic_jax.video import write_video

# Pitches two or more semitones apart so they land in different mel bands at 80 bands.
CLASSES = (
    ("red", (230, 30, 30), 220.0),
    ("green", (30, 200, 40), 330.0),
    ("blue", (40, 60, 230), 440.0),
    ("yellow", (235, 220, 30), 587.33),
    ("magenta", (220, 40, 220), 784.0),
    ("cyan", (40, 220, 220), 1046.5),
)
SHAPES = ("circle", "square", "triangle")


def class_frequency(label):
    return dict((n, f) for n, _, f in CLASSES)[label]


def draw_frame(rgb, shape, centre, radius, size, background):
    """uint8 [size, size, 3]: a filled shape on a plain background."""
    img = np.empty((size, size, 3), np.uint8)
    img[:] = background
    yy, xx = np.mgrid[:size, :size].astype(np.float32)
    cy, cx = centre
    if shape == "circle":
        mask = (yy - cy) ** 2 + (xx - cx) ** 2 <= radius**2
    elif shape == "square":
        mask = (abs(yy - cy) <= radius * 0.85) & (abs(xx - cx) <= radius * 0.85)
    else:  # upward triangle
        top, bottom = cy - radius, cy + radius
        half = (yy - top) / (2 * radius) * radius
        mask = (yy >= top) & (yy <= bottom) & (abs(xx - cx) <= half)
    img[mask] = rgb
    return img


def tone(freq, seconds, sample_rate=16000, rng=None):
    """A harmonic tone with a soft attack/release and a little noise, peak about 0.5."""
    rng = rng or np.random.default_rng(0)
    t = np.arange(int(round(seconds * sample_rate))) / sample_rate
    wave = sum(
        a * np.sin(2 * np.pi * k * freq * t + rng.uniform(0, 2 * np.pi))
        for k, a in ((1, 1.0), (2, 0.4), (3, 0.2))
    )
    env = np.minimum(1.0, np.minimum(t, t[-1] - t) / 0.05)
    wave = wave * env + 0.01 * rng.normal(size=t.size)
    return (0.5 * wave / np.abs(wave).max()).astype(np.float32)


def make_clip(rng, label_index, seconds=5.0, fps=4, size=64, sample_rate=16000):
    """(frames uint8 [T, size, size, 3], wave float32, label). The shape drifts slowly."""
    name, rgb, freq = CLASSES[label_index]
    shape = SHAPES[rng.integers(len(SHAPES))]
    radius = rng.uniform(0.15, 0.3) * size
    start = rng.uniform(radius, size - radius, 2)
    end = rng.uniform(radius, size - radius, 2)
    background = rng.integers(0, 90, 3)
    n = int(round(seconds * fps))
    frames = np.stack(
        [
            draw_frame(rgb, shape, start + (end - start) * i / max(n - 1, 1), radius, size, background)
            for i in range(n)
        ]
    )
    return frames, tone(freq, seconds, sample_rate, rng), name


def write_dataset(
    out_dir, n_clips=64, seed=0, seconds=5.0, fps=4, size=64, sample_rate=16000, progress=False
):
    """Write n_clips MP4 files (classes balanced round-robin) and labels.csv; returns the rows."""
    os.makedirs(out_dir, exist_ok=True)
    rng = np.random.default_rng(seed)
    rows = []
    items = range(n_clips)
    if progress:
        from tqdm import tqdm

        items = tqdm(items, desc="synthetic clips", unit="clip")
    for i in items:
        frames, wave, label = make_clip(rng, i % len(CLASSES), seconds, fps, size, sample_rate)
        name = f"clip_{i:05d}.mp4"
        write_video(os.path.join(out_dir, name), frames, fps, wave, sample_rate)
        rows.append((name, label))
    import io

    from music_codecs.atomic import write_text_atomic

    text = io.StringIO(newline="")
    w = csv.writer(text)
    w.writerow(["file", "label"])
    w.writerows(rows)
    write_text_atomic(os.path.join(out_dir, "labels.csv"), text.getvalue())
    return rows


def read_labels(data_dir):
    """{file name: label} from labels.csv, or {} when the folder has none."""
    path = os.path.join(data_dir, "labels.csv")
    if not os.path.exists(path):
        return {}
    with open(path, newline="") as f:
        return {r["file"]: r["label"] for r in csv.DictReader(f)}

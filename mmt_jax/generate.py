"""The generation job: parameters (from mmt_jax.load) and a prompt -> samples as MIDI, WAV, PNG, codes.

Samples are made in batches of one compiled shape (the last batch is topped up with spare rows
that are thrown away). Sample i draws from keys made from (seed, i) alone, so it does not change
with the batch size. For every sample `<stem>-<i>` the job writes `.mid`, `.wav` (FluidSynth
where installed, else sine tones), `.png` (piano roll) and `.npy` (event codes: prompt then
generated events up to and including EOS), plus `generate.json` listing settings and files.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from mmt_jax import codec
from music_codecs.errors import UserError


def write_sample(codes, stem, renderer="auto", title=None, qpm=None, time_signature=None, mark_beat=None):
    """Decode one code sequence and write stem.{npy,mid,wav,png}; returns a record.

    qpm / time_signature: the tempo and (numerator, denominator) written (default 100 qpm, as
    the reference, and none); mark_beat: a line on the piano roll there (where a prompt ends)."""
    from music_codecs.midi_write import write_midi
    from music_codecs.pianoroll import save_pianoroll_png
    from music_codecs.render import render_wav

    stem = Path(stem)
    qpm = codec.DECODE_QPM if qpm is None else float(qpm)
    table = codec.decode(codes, qpm, time_signature)
    from music_codecs.atomic import atomic_file

    with atomic_file(stem.with_suffix(".npy")) as f:  # whole files only, even on a full disk
        np.save(f, np.asarray(codes, np.int64))
    write_midi(table, stem.with_suffix(".mid"))
    used = render_wav(table, stem.with_suffix(".wav"), renderer=renderer)
    marks = {mark_beat: "prompt ends"} if mark_beat is not None else None
    save_pianoroll_png(table, stem.with_suffix(".png"), title=title or stem.name, marks=marks)
    seconds = float(table.end) / codec.RESOLUTION * 60.0 / qpm
    return {
        "name": stem.name,
        "events": int(len(codes)),
        "notes": int(len(table)),
        "seconds": round(seconds, 2),
        "beats": round(float(table.end) / codec.RESOLUTION, 2),
        "qpm": qpm,
        "time_signature": list(time_signature) if time_signature else None,
        "renderer": used,
        "files": {k: stem.with_suffix(k).name for k in (".mid", ".wav", ".png", ".npy")},
    }


def sample_codes(
    params,
    sampler_cfg,
    prompt,
    num_samples=1,
    batch_size=1,
    seed=0,
    temperature=1.0,
    num_events=None,
    progress=True,
    desc="sample",
    prompt_multiple=8,
):
    """Yield (i, codes) for samples i = 0..num_samples-1 of one prompt, made in batches of one
    compiled shape; sample i depends on (seed, i) alone, not on the batch size. The prompt is
    padded to a multiple of `prompt_multiple` events (prompts within one multiple share a
    compiled loop)."""
    from tqdm.auto import tqdm

    from mmt_jax.sample import pad_prompts, row_keys_for, sample

    if num_samples < 1 or batch_size < 1:
        raise UserError("--num-samples and --batch-size must be positive")
    batch_size = min(batch_size, num_samples)
    prompts = pad_prompts([prompt] * batch_size, prompt_multiple)
    with tqdm(
        total=num_samples, desc=f"generate {desc}", unit="sample", disable=not progress, dynamic_ncols=True
    ) as bar:
        for first in range(0, num_samples, batch_size):
            index = np.arange(first, first + batch_size)
            out = sample(
                params, sampler_cfg, prompts, num_events, temperature, row_keys=row_keys_for(seed, index)
            )
            for i, codes in zip(index, out.sequences()):
                if i < num_samples:
                    yield int(i), codes
                    bar.update(1)


def generate(
    params,
    sampler_cfg,
    prompt,
    out_dir,
    *,
    num_samples=1,
    batch_size=1,
    seed=0,
    temperature=1.0,
    num_events=None,
    stem="sample",
    renderer="auto",
    progress=True,
    settings=None,
    qpm=None,
    time_signature=None,
    mark_beat=None,
):
    """Sample `num_samples` continuations of one prompt into out_dir; returns the records
    (qpm, time_signature, mark_beat: as in write_sample)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    records = []
    for i, codes in sample_codes(
        params, sampler_cfg, prompt, num_samples, batch_size, seed, temperature, num_events, progress, stem
    ):
        record = write_sample(
            codes, out_dir / f"{stem}-{i:03d}", renderer, None, qpm, time_signature, mark_beat
        )
        record.update(index=int(i), prompt_events=int(len(prompt)))
        records.append(record)
    manifest = out_dir / "generate.json"
    runs = json.loads(manifest.read_text())["runs"] if manifest.is_file() else []
    runs = [r for r in runs if r["stem"] != stem]  # a rerun replaces its files' entry
    runs.append({"stem": stem, "settings": settings or {}, "samples": records})
    from music_codecs.atomic import write_text_atomic

    write_text_atomic(manifest, json.dumps({"runs": runs}, indent=2) + "\n")
    return records


def write_index(out_dir, title="MMT samples"):
    """out_dir/index.html: every run listed in out_dir/generate.json (a picture, a player and
    downloads per sample, each run's settings); returns its path."""
    from music_codecs.html_page import Item, Section, write_page

    runs = json.loads((Path(out_dir) / "generate.json").read_text())["runs"]
    sections = []
    for run in runs:
        items = [
            Item(
                r["name"],
                image=r["files"][".png"],
                audio=r["files"][".wav"],
                links={"MIDI": r["files"][".mid"], "codes": r["files"][".npy"]},
                caption=f"{r['notes']} notes, {r['beats']} beats, {r['seconds']} s at {r['qpm']:g} qpm "
                f"(audio: {r['renderer']})",
            )
            for r in run["samples"]
        ]
        settings = {k: v for k, v in run["settings"].items() if v is not None}
        sections.append(Section(run["stem"], items, settings=settings, anchor=run["stem"]))
    return write_page(Path(out_dir) / "index.html", title, sections)

"""Build the demo site from the models that ship with the packages (`make demo`).

    python -m demo_site.build [--out demo_out/site] [--samples 2] [--seed 0] [--only mmt,arranger]

One static site, index.html and its assets/ (MIDI, WAV, PNG), in the manner of the papers' demo
pages: MMT's three modes (unconditional, instrument-informed, continuation of a Bach chorale);
Arranger instrumenting a solo piece (a held-out chorale flattened to one piano part) with the
online LSTM and the offline BiLSTM, beside Bach's own voices; CLIPSonic sounds from pictures and
from text (through CLIP alone, and through the diffusion prior); MuseGAN phrases. Every sample has
its piano roll or mel spectrogram, an audio player, download links, and the settings used.
Nothing is trained: the models come from `<package>/pretrained/` (`make models` remakes them).
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

from music_codecs.html_page import Item, Section, relative, write_page

SYSTEMS = ("mmt", "arranger", "clipsonic", "musegan")
PROMPT_PIECE = "bach/bwv66.6"  # continued by MMT
PROMPT_QPM = 72.0
SOLO_PIECE = "bach/bwv117.4"  # in the Arranger's test split (seed 0): no model has seen it
IMAGES = (("red", "circle"), ("blue", "square"), ("cyan", "triangle"))
TEXTS = ("a red shape", "a blue shape", "a cyan shape")


class Site:
    """Where files go and how an item links them."""

    def __init__(self, out, renderer="auto"):
        self.out = Path(out).absolute()
        self.page = self.out / "index.html"
        self.renderer = renderer
        self.renderers = set()

    def music_item(self, music, stem, caption=""):
        files = music.save(self.out / "assets" / stem, renderer=self.renderer)
        self.renderers.add(files["renderer"])
        return Item(
            music.title,
            image=relative(files["png"], self.page),
            audio=relative(files["wav"], self.page),
            links={"MIDI": relative(files["midi"], self.page), "WAV": relative(files["wav"], self.page)},
            caption=caption,
        )

    def sound_item(self, sound, stem, caption=""):
        files = sound.save(self.out / "assets" / stem)
        return Item(
            sound.query if sound.mode != "image" else stem.split("/")[-1],
            image=relative(files["png"], self.page),
            audio=relative(files["wav"], self.page),
            links={"WAV": relative(files["wav"], self.page), "mel PNG": relative(files["png"], self.page)},
            caption=caption,
        )


def _metric(card_model, key, fmt="{:.2f}"):
    import json

    metrics = card_model.path / "metrics.json"
    value = json.loads(metrics.read_text()).get(key) if metrics.is_file() else None
    return "?" if value is None else fmt.format(value)


def mmt_sections(site, samples, seed, max_events=256):
    import mmt_jax
    from music_codecs.musicxml_read import read_corpus_piece

    model = mmt_jax.load("music21")
    instruments = "piano,violin,cello"
    beats = 8
    chorale = read_corpus_piece(PROMPT_PIECE).replace(tempo_tick=[0], tempo_qpm=[PROMPT_QPM])
    settings = {
        "model": f"{model!r}, best eval loss {_metric(model, 'eval_loss', '{:.3f}')} (MODEL_CARD.md)",
        "sampling": "preset 'default': notes only on declared instruments, beat advances bounded by "
        f"the training data's largest; temperature 1.0; up to {max_events} events",
        "samples": f"{samples} per mode, seed {seed} (sample i from (seed, i))",
    }
    asks = (
        ("Unconditional", "From the start-of-song event alone.", dict(mode="unconditional")),
        (
            "Instrument-informed",
            f"Start of song, then the instruments {instruments}.",
            dict(mode="instrument", instruments=instruments),
        ),
        (
            "Continuation",
            f"The first {beats} beats of {PROMPT_PIECE} (first figure, at {PROMPT_QPM:g} qpm), then "
            "the model; the dashed line marks where the prompt ends.",
            dict(mode="continuation", prompt=chorale, beats=beats),
        ),
    )
    sections = []
    for title, text, kwargs in asks:
        items = []
        if kwargs["mode"] == "continuation":
            from music_codecs.music import Music

            head = chorale.select(chorale.onset < beats * chorale.resolution)
            items.append(site.music_item(Music(head, f"prompt: {PROMPT_PIECE}, {beats} beats"), "mmt/prompt"))
        pieces = model.generate(num_samples=samples, seed=seed, max_events=max_events, **kwargs)
        for p in pieces:
            caption = f"{len(p)} notes, {p.table.end / p.table.resolution:.0f} beats at {p.info['qpm']:g} qpm; instruments: {', '.join(p.info['instruments']) or 'none'}"
            items.append(site.music_item(p, f"mmt/{kwargs['mode']}-{p.info['index']}", caption))
        sections.append(Section(f"MMT: {title}", items, text, anchor=f"mmt-{kwargs['mode']}"))
    sections[-1].settings = settings
    return sections


def arranger_sections(site, samples, seed):
    import arranger_jax
    from music_codecs.music import Music
    from music_codecs.musicxml_read import read_corpus_piece

    original = read_corpus_piece(SOLO_PIECE)
    solo = original.replace(
        track=original.track * 0,
        program=original.program * 0,
        track_names=("Piano",),
        is_drum=original.is_drum,
    )
    items = [
        site.music_item(Music(solo, f"input: {SOLO_PIECE} as one piano part"), "arranger/input"),
        site.music_item(Music(original, f"Bach's own voices ({SOLO_PIECE})"), "arranger/original"),
    ]
    settings = {}
    for name in ("bach-lstm", "bach-bilstm"):
        model = arranger_jax.load(name)
        arranged = model.instrument(Music(solo, SOLO_PIECE))
        counts = ", ".join(f"{k} {v}" for k, v in arranged.info["part_counts"].items())
        items.append(site.music_item(arranged, f"arranger/{name}", f"notes per part: {counts}"))
        settings[name] = (
            f"{model!r}; test accuracy on the 47 held-out chorales "
            f"{_metric(model, 'test_accuracy', '{:.2%}')} (MODEL_CARD.md)"
        )
    text = (
        f"{SOLO_PIECE} (a chorale of the test split, seen by neither model) merged into one piano part, "
        "then every note labelled Soprano, Alto, Tenor or Bass; the piano rolls are coloured by part. "
        "The LSTM labels each note from the notes before it (streaming); the BiLSTM sees the whole piece."
    )
    return [
        Section("Arranger: a solo piece arranged for four voices", items, text, True, "arranger", settings)
    ]


def clipsonic_sections(site, samples, seed):
    import clipsonic_jax
    from clipsonic_jax.synthetic import CLASSES, draw_frame

    model = clipsonic_jax.load("synthetic-tiny")
    colours = {n: rgb for n, rgb, _ in CLASSES}
    frames = [draw_frame(colours[c], s, (32, 32), 16, 64, (20, 20, 20)) for c, s in IMAGES]
    items = []
    from PIL import Image

    for (colour, shape), frame, sound in zip(IMAGES, frames, model.generate(image=frames, seed=seed)):
        stem = f"clipsonic/image-{colour}-{shape}"
        picture = site.out / "assets" / f"{stem}-query.png"
        picture.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(frame).resize((128, 128), Image.NEAREST).save(picture)
        items.append(Item(f"query: a {colour} {shape}", image=relative(picture, site.page), small=True))
        items.append(site.sound_item(sound, stem, f"the sound CLIPSonic-IQ made for the {colour} {shape}"))
    texts = []
    for prior in (False, True):
        for sound in model.generate(text=list(TEXTS), prior=prior, seed=seed):
            how = "through the prior (PD)" if prior else "straight through CLIP (ZS)"
            stem = f"clipsonic/text-{'pd' if prior else 'zs'}-{sound.query.replace(' ', '_')}"
            texts.append(site.sound_item(sound, stem, how))
    cfg = model.model.cfg
    settings = {
        "model": f"{model!r}: U-Net {cfg.unet}, mel {cfg.mel.n_mels} bands x {cfg.mel.clip_frames} frames",
        "sampling": f"{cfg.sample.sampler} {cfg.sample.steps} steps, guidance {cfg.sample.guidance}, "
        f"Griffin-Lim {cfg.sample.griffin_lim_iters} iterations; seed {seed}",
        "pitch accuracy (held-out clips)": f"IQ {_metric(model, 'iq', '{:.2f}')}, ZS {_metric(model, 'zs', '{:.2f}')}, "
        f"PD {_metric(model, 'pd', '{:.2f}')} (MODEL_CARD.md)",
    }
    return [
        Section(
            "CLIPSonic: sounds from pictures",
            items,
            "Each colour was paired with one pitch in training; the picture is the query, the mel "
            "spectrogram and audio are the answer.",
            True,
            "clipsonic-image",
        ),
        Section(
            "CLIPSonic: sounds from text",
            texts,
            "Text queries: straight through CLIP's text encoder (ZS, which lands far from the image "
            "embeddings the model was trained on), then through the diffusion prior (PD).",
            False,
            "clipsonic-text",
            settings,
        ),
    ]


def musegan_sections(site, samples, seed):
    import musegan_jax

    model = musegan_jax.load("bach-hybrid")
    pieces = model.generate(num_samples=samples, seed=seed)
    items = [
        site.music_item(p, f"musegan/sample-{p.info['index']}", f"{len(p)} notes, 4 bars") for p in pieces
    ]
    settings = {"model": f"{model!r} (MODEL_CARD.md)", "samples": f"{samples}, seed {seed}, 120 qpm"}
    return [Section("MuseGAN: four-bar phrases", items, "", False, "musegan", settings)]


BUILDERS = {
    "mmt": mmt_sections,
    "arranger": arranger_sections,
    "clipsonic": clipsonic_sections,
    "musegan": musegan_sections,
}


def build(out="demo_out/site", samples=2, seed=0, only=SYSTEMS, renderer="auto", log=print) -> Path:
    """Write the site; returns the path of index.html."""
    import jax

    site = Site(out, renderer)
    sections, timings = [], {}
    for system in only:
        start = time.perf_counter()
        sections += BUILDERS[system](site, samples, seed)
        timings[system] = time.perf_counter() - start
        log(f"{system}: {timings[system]:.0f} s")
    nav = {s.title: f"#{s.anchor}" for s in sections}
    settings = {
        "audio": "FluidSynth with a General MIDI soundfont"
        if site.renderers == {"fluidsynth"}
        else f"renderer(s): {', '.join(sorted(site.renderers)) or '-'} (sine = pretty_midi's fallback without FluidSynth)",
        "built in": ", ".join(f"{k} {v:.0f} s" for k, v in timings.items()),
        "machine": f"jax {jax.__version__} on {jax.devices()[0].platform}, {platform.machine()}, "
        f"Python {platform.python_version()}",
    }
    intro = (
        "Every sample on this page was made by the small models that ship inside the packages "
        "(trained by `make models` on the built-in data, on a CPU: expect sketches, not the papers' "
        "quality). Rebuild with `make demo`."
    )
    write_page(site.page, "music-gen-jax: demo", sections, intro, settings, nav)
    return site.page


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m demo_site.build", description=__doc__.splitlines()[0])
    p.add_argument("--out", default="demo_out/site", help="site folder (index.html + assets/)")
    p.add_argument("--samples", type=int, default=2, help="samples per MMT mode and MuseGAN")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--only", default=",".join(SYSTEMS), help=f"comma-separated, from {','.join(SYSTEMS)}")
    p.add_argument("--renderer", default="auto", choices=("auto", "fluidsynth", "sine"))
    args = p.parse_args(argv)
    from music_codecs.errors import UserError

    only = [s for s in args.only.split(",") if s]
    bad = [s for s in only if s not in SYSTEMS]
    if bad:
        print(
            f"demo: error: unknown system(s) {', '.join(bad)}; choose from {', '.join(SYSTEMS)}",
            file=sys.stderr,
        )
        return 2
    start = time.perf_counter()
    try:
        page = build(args.out, args.samples, args.seed, only, args.renderer)
    except UserError as err:
        print(f"demo: error: {err}", file=sys.stderr)
        return 2
    print(f"demo site built in {time.perf_counter() - start:.0f} s: open {page}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

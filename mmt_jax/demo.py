"""The MMT demo (`make demo`): built-in corpus -> tiny model trained on the CPU -> music in three modes.

    python -m mmt_jax.demo [--out demo_out/mmt] [--steps 1000] [--pieces 40]

Prepares a small part of music21's corpus, trains configs/mmt/tiny.py for a few minutes (a
second run resumes, so it is quick), generates unconditionally (up to four windows of events),
from a list of instruments and as a continuation of the first beats of a Bach chorale (written
out as a 72-qpm MIDI file first; the continuation comes back at that tempo, its piano roll
marked where the prompt ends), and writes MIDI, WAV, piano rolls and one HTML page with
players, what each sample holds (instruments, beats, share of notes on the asked instruments)
and the settings used.
"""

from __future__ import annotations

import argparse
import html
import sys
import time
from pathlib import Path

from music_codecs.atomic import write_text_atomic

CONFIG = Path(__file__).resolve().parent.parent / "configs" / "mmt" / "tiny.py"
PROMPT_PIECE = "bach/bwv66.6"
PROMPT_QPM = 72.0


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="python -m mmt_jax.demo", description=__doc__.splitlines()[0])
    p.add_argument("--out", default="demo_out/mmt", help="demo folder")
    p.add_argument("--steps", type=int, default=1000, help="training steps")
    p.add_argument("--pieces", type=int, default=40, help="corpus pieces to prepare")
    p.add_argument("--samples", type=int, default=2, help="samples per mode")
    p.add_argument(
        "--max-events",
        type=int,
        default=512,
        help="events per sample at most (four of the tiny model's 128-event windows)",
    )
    p.add_argument("--instruments", default="piano,violin,cello")
    p.add_argument("--beats", type=int, default=8, help="continuation: prompt beats")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--renderer", default="auto", choices=("auto", "fluidsynth", "sine"))
    return p.parse_args(argv)


VOCAL = ("bach", "trecento", "monteverdi", "ciconia", "luca", "lusitano")  # corpus folders of songs


def demo_items(count):
    """A corpus subset with strings, piano and voices: up to half instrumental pieces spread
    over their composers (quartets, piano pieces), the rest the first chorales."""
    from mmt_jax.prepare import corpus_items

    items = corpus_items()
    instrumental = [i for i in items if i[0].split("/")[0] not in VOCAL]
    step = max(len(instrumental) / max(count // 2, 1), 1)
    chosen = [instrumental[int(k * step)] for k in range(min(count // 2, len(instrumental)))]
    chosen += [i for i in items if i[0].startswith("bach/")][: count - len(chosen)]
    return chosen


def train_model(args, out):
    """Prepare the corpus subset and train the tiny config into out/run (resumes)."""
    from mmt_jax import prepare
    from mmt_jax.train import train
    from train_kit.config import load_config

    report = prepare.prepare(demo_items(args.pieces), out / "data")
    print(prepare.summary({**report, "skipped": []}))
    cfg = load_config(
        CONFIG,
        [
            f"data.path={out / 'data'}",
            "data.prepare_corpus=''",
            f"train.out_dir={out / 'run'}",
            f"train.max_steps={args.steps}",
            f"optim.decay_steps={args.steps}",
            f"train.eval_every={max(args.steps // 3, 1)}",
            f"train.seed={args.seed}",
        ],
    )
    start = time.perf_counter()
    result = train(cfg)
    return cfg, result, time.perf_counter() - start


def continuation_prompt(out, beats):
    """The first beats of a chorale from the corpus, via a MIDI file like a user's."""
    from mmt_jax import prompts
    from music_codecs.midi_write import write_midi
    from music_codecs.musicxml_read import read_corpus_piece

    table = read_corpus_piece(PROMPT_PIECE)
    table = table.replace(tempo_tick=[0], tempo_qpm=[PROMPT_QPM])
    path = write_midi(table, out / "prompt.mid")
    timing = {}
    return prompts.continuation(path, beats, timing=timing), path, timing


def holds(codes_path, asked=None):
    """What a sample holds: its instruments (with the share of notes on the asked ones)."""
    import numpy as np

    from mmt_jax import codec

    codes = np.load(codes_path)
    notes = codes[codes[:, 0] == codec.NOTE]
    names, counts = np.unique(notes[:, 5], return_counts=True)
    text = "instruments: " + ", ".join(f"{codec.INSTRUMENT_NAMES[c]} ({n})" for c, n in zip(names, counts))
    if asked is not None and len(notes):
        text += f"; {100 * np.isin(notes[:, 5], list(asked)).mean():.0f}% of notes on the asked instruments"
    return text


def write_page(out, sections, settings):
    """One static HTML page: per mode the piano rolls with audio players, then the settings."""
    esc = html.escape
    parts = [
        "<!doctype html><meta charset='utf-8'><title>MMT demo</title>",
        "<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em}"
        "figure{margin:1em 0;border:1px solid #ddd;padding:.5em}img{width:100%}"
        "table{border-collapse:collapse}td{border:1px solid #ddd;padding:2px 8px}</style>",
        "<h1>Multitrack Music Transformer: demo</h1>",
        "<p>A tiny MMT trained for a few minutes on a CPU on part of the music21 corpus. "
        "Expect sketches, not music.</p>",
    ]
    for title, note, records in sections:
        parts.append(f"<h2>{esc(title)}</h2><p>{esc(note)}</p>")
        for r in records:
            f = r["files"]
            parts.append(
                f"<figure><img src='{esc(f['.png'])}' alt='{esc(r['name'])}'>"
                f"<figcaption>{esc(r['name'])}: {r['notes']} notes, {r['events']} events, "
                f"{r.get('beats', '?')} beats, {r['seconds']} s at {r.get('qpm', 100):g} qpm "
                f"({esc(r['renderer'])}) &middot; {esc(r.get('holds', ''))} &middot; "
                f"<a href='{esc(f['.mid'])}'>MIDI</a> &middot; <a href='{esc(f['.npy'])}'>codes</a>"
                f"<br><audio controls preload='none' src='{esc(f['.wav'])}'></audio>"
                f"</figcaption></figure>"
            )
    parts.append("<h2>Settings</h2><table>")
    parts += [f"<tr><td>{esc(k)}</td><td>{esc(str(v))}</td></tr>" for k, v in settings.items()]
    parts.append("</table>")
    page = out / "index.html"
    write_text_atomic(page, "\n".join(parts) + "\n")
    return page


def main(argv=None):
    args = parse_args(argv)
    from music_codecs.errors import UserError

    try:
        return run(args)
    except UserError as err:
        print(f"mmt demo: error: {err}", file=sys.stderr)
        return 2


def run(args):
    import jax

    from mmt_jax import codec, prompts
    from mmt_jax.generate import generate, write_sample
    from mmt_jax.load import load
    from mmt_jax.sample import SamplerConfig

    out = Path(args.out).absolute()
    samples = out / "samples"
    samples.mkdir(parents=True, exist_ok=True)
    begin = time.perf_counter()
    cfg, result, train_seconds = train_model(args, out)
    params, run_cfg = load(out / "run")
    model_cfg = run_cfg.model
    sampler = SamplerConfig.preset("default", model_cfg, max_events=args.max_events)
    chorale, chorale_midi, timing = continuation_prompt(out, args.beats)
    prompt_record = write_sample(
        chorale,
        samples / "prompt",
        args.renderer,
        f"prompt: {PROMPT_PIECE}",
        timing["qpm"],
        timing["time_signature"],
    )
    prompt_record["name"] = f"prompt ({PROMPT_PIECE}, {args.beats} beats)"
    modes = [
        (
            "Unconditional",
            f"From the start-of-song event alone, up to {args.max_events} events "
            f"({args.max_events / model_cfg.max_seq_len:g} windows of {model_cfg.max_seq_len}).",
            "unconditional",
            prompts.unconditional(),
            {},
        ),
        (
            "Instrument-informed",
            f"Start of song, then the instruments {args.instruments}.",
            "instrument",
            prompts.instrument_informed(args.instruments),
            {},
        ),
        (
            "Continuation",
            f"The first {args.beats} beats of {PROMPT_PIECE} (read back from "
            f"{Path(chorale_midi).name} at {timing['qpm']:g} qpm; its piano roll is the first "
            "figure), then the model; the dashed line marks where the prompt ends.",
            "continuation",
            chorale,
            {"qpm": timing["qpm"], "time_signature": timing["time_signature"], "mark_beat": args.beats},
        ),
    ]
    sections = []
    gen_start = time.perf_counter()
    asked = set(codec.instrument_codes(args.instruments))
    for title, note, stem, prompt, timing_args in modes:
        records = generate(
            params,
            sampler,
            prompt,
            samples,
            num_samples=args.samples,
            batch_size=args.samples,
            seed=args.seed,
            stem=stem,
            renderer=args.renderer,
            **timing_args,
        )
        for r in records:
            r["holds"] = holds(samples / r["files"][".npy"], asked if stem == "instrument" else None)
        sections.append((title, note, records))
    sections[2][2].insert(0, prompt_record)
    for _, _, records in sections:
        for r in records:
            r["files"] = {k: f"samples/{v}" for k, v in r["files"].items()}
    settings = {
        "training": f"{result.step} steps of configs/mmt/tiny.py on {args.pieces} corpus pieces "
        f"({train_seconds:.0f} s; best eval loss "
        f"{'-' if result.best_metric is None else f'{result.best_metric:.3f}'})",
        "model": f"dim {model_cfg.dim}, {model_cfg.depth} layers, {model_cfg.heads} heads, "
        f"window {model_cfg.max_seq_len} events",
        "sampling": f"preset 'default': top-k per field, thresholds {sampler.thresholds[0]} (k = "
        f"{', '.join(map(str, sampler.top_ks))}), temperature 1.0, monotonic type "
        f"and beat, notes only on declared instruments, up to {args.max_events} events",
        "seed": args.seed,
        "generation time": f"{time.perf_counter() - gen_start:.1f} s (incl. rendering)",
        "jax": f"{jax.__version__} on {jax.devices()[0].platform}",
    }
    page = write_page(out, sections, settings)
    print(f"MMT demo done in {time.perf_counter() - begin:.0f} s: open {page}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

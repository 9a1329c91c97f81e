"""The MMT demo (`make demo`): built-in corpus -> tiny model trained on the CPU -> music in three modes.

    python -m mmt_jax.demo [--out demo_out/mmt] [--steps 1000] [--pieces 40]

Prepares a small part of music21's corpus, trains configs/mmt/tiny.py for a few minutes (a
second run resumes, so it is quick), generates unconditionally, from a list of instruments and
as a continuation of the first beats of a Bach chorale (written out as MIDI first), and writes
MIDI, WAV, piano rolls and one HTML page with players and the settings used.
"""

from __future__ import annotations

import argparse
import html
import sys
import time
from pathlib import Path

CONFIG = Path(__file__).resolve().parent.parent / "configs" / "mmt" / "tiny.py"
PROMPT_PIECE = "bach/bwv66.6"


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="python -m mmt_jax.demo", description=__doc__.splitlines()[0])
    p.add_argument("--out", default="demo_out/mmt", help="demo folder")
    p.add_argument("--steps", type=int, default=1000, help="training steps")
    p.add_argument("--pieces", type=int, default=40, help="corpus pieces to prepare")
    p.add_argument("--samples", type=int, default=2, help="samples per mode")
    p.add_argument(
        "--max-events", type=int, default=192, help="events per sample (the tiny model's window is 128)"
    )
    p.add_argument("--instruments", default="piano,violin,cello")
    p.add_argument("--beats", type=int, default=8, help="continuation: prompt beats")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--renderer", default="auto", choices=("auto", "fluidsynth", "sine"))
    return p.parse_args(argv)


def train_model(args, out):
    """Prepare the corpus subset and train the tiny config into out/run (resumes)."""
    from mmt_jax.train import train
    from train_kit.config import load_config

    cfg = load_config(
        CONFIG,
        [
            f"data.path={out / 'data'}",
            f"data.prepare_limit={args.pieces}",
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

    path = write_midi(read_corpus_piece(PROMPT_PIECE), out / "prompt.mid")
    return prompts.continuation(path, beats), path


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
                f"{r['seconds']} s at 100 qpm ({esc(r['renderer'])}) &middot; "
                f"<a href='{esc(f['.mid'])}'>MIDI</a> &middot; <a href='{esc(f['.npy'])}'>codes</a>"
                f"<br><audio controls preload='none' src='{esc(f['.wav'])}'></audio>"
                f"</figcaption></figure>"
            )
    parts.append("<h2>Settings</h2><table>")
    parts += [f"<tr><td>{esc(k)}</td><td>{esc(str(v))}</td></tr>" for k, v in settings.items()]
    parts.append("</table>")
    page = out / "index.html"
    page.write_text("\n".join(parts) + "\n", encoding="utf8")
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

    from mmt_jax import prompts
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
    sampler = SamplerConfig(model_cfg, max_events=args.max_events)
    chorale, chorale_midi = continuation_prompt(out, args.beats)
    prompt_record = write_sample(chorale, samples / "prompt", args.renderer, title=f"prompt: {PROMPT_PIECE}")
    prompt_record["name"] = f"prompt ({PROMPT_PIECE}, {args.beats} beats)"
    modes = [
        ("Unconditional", "From the start-of-song event alone.", "unconditional", prompts.unconditional()),
        (
            "Instrument-informed",
            f"Start of song, then the instruments {args.instruments}.",
            "instrument",
            prompts.instrument_informed(args.instruments),
        ),
        (
            "Continuation",
            f"The first {args.beats} beats of {PROMPT_PIECE} (read back from "
            f"{Path(chorale_midi).name}; its piano roll is the first figure), then the model.",
            "continuation",
            chorale,
        ),
    ]
    sections = []
    gen_start = time.perf_counter()
    for title, note, stem, prompt in modes:
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
        )
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
        "sampling": f"top-k per field, thresholds {sampler.thresholds[0]} (k = "
        f"{', '.join(map(str, sampler.top_ks))}), temperature 1.0, monotonic type "
        f"and beat, up to {args.max_events} events",
        "seed": args.seed,
        "generation time": f"{time.perf_counter() - gen_start:.1f} s (incl. rendering)",
        "jax": f"{jax.__version__} on {jax.devices()[0].platform}",
    }
    page = write_page(out, sections, settings)
    print(f"MMT demo done in {time.perf_counter() - begin:.0f} s: open {page}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

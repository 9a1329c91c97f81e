"""`arranger-jax instrument`: arrange a solo (or downmixed) piece for the parts a model was trained on."""

import argparse

HELP = "label every note of a MIDI/MusicXML piece with a trained model; write multitrack MIDI, PNG and WAV"


def add_arguments(parser):
    run = parser.add_mutually_exclusive_group(required=True)
    run.add_argument(
        "--checkpoint",
        metavar="RUN",
        help="run folder written by `arranger-jax train` or `convert-reference`, or the name of a "
        "shipped model (bach-lstm, bach-bilstm)",
    )
    run.add_argument("--model", dest="checkpoint", help=argparse.SUPPRESS)  # the old spelling
    parser.add_argument("input", help="MIDI or MusicXML file (all non-drum tracks are merged)")
    parser.add_argument(
        "--out", help="output folder (default: the input's folder; files are named <stem>_arranged.*)"
    )
    parser.add_argument("out_dir", nargs="?", help=argparse.SUPPRESS)  # the old positional spelling
    parser.add_argument("--no-wav", action="store_true", help="skip audio rendering")
    parser.add_argument(
        "--stream",
        action="store_true",
        help="label the notes one at a time as a live performance would arrive "
        "(online models: LSTM, Transformer-Dec) and report the time per note",
    )


def run(args):
    from pathlib import Path

    from train_kit import paths

    args.checkpoint = str(paths.run_dir(args.checkpoint, package="arranger_jax"))
    paths.input_file(args.input, "INPUT")
    out = Path(args.out or args.out_dir or Path(args.input).parent)
    paths.output_dir(out, "--out", inputs=[args.checkpoint])
    suffixes = (".mid", ".png", ".html") + (() if args.no_wav else (".wav",))
    stem = Path(args.input).stem
    paths.distinct_outputs({out / f"{stem}_arranged{s}": args.input for s in suffixes}, inputs=[args.input])

    import numpy as np

    from arranger_jax import instrument
    from arranger_jax.load import load
    from music_codecs.midi_write import write_midi
    from music_codecs.pianoroll import save_pianoroll_png
    from music_codecs.read import read_music
    from music_codecs.render import render_wav

    trained = load(args.checkpoint)
    config, params, dataset = trained.config.model, trained.params, trained.dataset
    table = read_music(args.input)
    piece, drums = instrument.downmix(table, stem)
    if args.stream:
        parts = _stream(config, params, instrument.model_batch(piece, config.num_parts))
    else:
        parts = instrument.label_parts(trained, piece)
    out.mkdir(parents=True, exist_ok=True)
    arranged = instrument.arranged_table(piece, parts, dataset, table, drums)
    written = [
        write_midi(arranged, out / f"{stem}_arranged.mid"),
        save_pianoroll_png(arranged, out / f"{stem}_arranged.png", title=f"{stem} ({config.name})"),
    ]
    used = None
    if not args.no_wav:
        used = render_wav(arranged, out / f"{stem}_arranged.wav")
        written.append(str(out / f"{stem}_arranged.wav"))
    counts = np.bincount(parts, minlength=config.num_parts)
    parts_line = ", ".join(f"{n}: {c}" for n, c in zip(arranged.track_names, counts))
    print(f"{len(piece)} notes -> " + parts_line)
    written.append(_page(out / f"{stem}_arranged", f"{stem} arranged by {config.name}", parts_line, used))
    for path in written:
        print(f"wrote {path}")
    if used:
        from music_codecs.render import describe_renderer

        print(f"audio: {describe_renderer(used)}")


def _page(stem, title, caption, used):
    """<stem>.html: the arrangement's piano roll, player (when rendered) and downloads."""
    from music_codecs.html_page import Item, Section, write_page

    name = stem.name
    links = {"MIDI": f"{name}.mid"} | ({"WAV": f"{name}.wav"} if used else {})
    item = Item(title, f"{name}.png", f"{name}.wav" if used else None, links, f"notes per part: {caption}")
    return write_page(stem.with_suffix(".html"), title, [Section("Arrangement", [item])])


def _stream(config, params, batch):
    """Part per note, labelled one note at a time by the streaming model."""
    import time

    import numpy as np
    from tqdm import tqdm

    from arranger_jax.streaming import StreamingLabeller, note_inputs
    from music_codecs.errors import UserError

    if not config.online:
        raise UserError(
            f"--stream needs an online model (LSTM or Transformer-Dec); {config.name} looks ahead"
        )
    labeller = StreamingLabeller(config, params)
    notes = len(batch["pitch"][0])
    labeller.step(labeller.start(), note_inputs(batch, 0))[0].block_until_ready()  # compile
    state, parts = labeller.start(), []
    start = time.perf_counter()
    for i in tqdm(range(notes), desc="streaming", unit="note", disable=notes < 2000):
        logits, state = labeller.step(state, note_inputs(batch, i))
        parts.append(int(np.argmax(logits[0, 1:])))  # what a live player would act on now
    seconds = time.perf_counter() - start
    print(f"streamed {notes} notes: {1000 * seconds / notes:.3f} ms per note")
    return np.asarray(parts)

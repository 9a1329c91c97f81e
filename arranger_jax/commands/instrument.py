"""`arranger-jax instrument`: arrange a solo (or downmixed) piece for the parts a model was trained on."""
HELP = "label every note of a MIDI/MusicXML piece with a trained model; write multitrack MIDI, PNG and WAV"


def add_arguments(parser):
    parser.add_argument("--model", required=True, help="run folder written by `arranger-jax train`")
    parser.add_argument("input", help="MIDI or MusicXML file (all non-drum tracks are merged)")
    parser.add_argument("out_dir", help="output folder")
    parser.add_argument("--no-wav", action="store_true", help="skip audio rendering")


def run(args):
    from pathlib import Path

    import jax
    import numpy as np

    from arranger_jax import features as F, instrument
    from arranger_jax.models import build_model
    from arranger_jax.train import load_trained
    from music_codecs.midi_write import write_midi
    from music_codecs.pianoroll import save_pianoroll_png
    from music_codecs.read import read_music
    from music_codecs.render import render_wav

    config, params, dataset = load_trained(args.model)
    table = read_music(args.input)
    stem = Path(args.input).stem
    piece, drums = instrument.downmix(table, stem)
    inputs, _ = F.piece_inputs(piece, config.num_parts, max_len=None)  # every note, no cap
    inputs["entry_hint"] = np.zeros_like(inputs["entry_hint"])  # no part information at inference
    inputs["pitch_hint"] = np.zeros_like(inputs["pitch_hint"])
    model = build_model(config)
    logits = model.apply({"params": params}, {k: v[None] for k, v in inputs.items()})
    parts = np.asarray(jax.device_get(logits))[0, :, 1:].argmax(-1)
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    arranged = instrument.arranged_table(piece, parts, dataset, table, drums)
    written = [write_midi(arranged, out / f"{stem}_arranged.mid"),
               save_pianoroll_png(arranged, out / f"{stem}_arranged.png", title=f"{stem} ({config.name})")]
    if not args.no_wav:
        render_wav(arranged, out / f"{stem}_arranged.wav")
        written.append(str(out / f"{stem}_arranged.wav"))
    counts = np.bincount(parts, minlength=config.num_parts)
    print(f"{len(piece)} notes -> " + ", ".join(f"{n}: {c}" for n, c in zip(arranged.track_names, counts)))
    for path in written:
        print(f"wrote {path}")

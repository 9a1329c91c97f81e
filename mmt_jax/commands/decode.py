"""`mmt-jax decode CODES OUT`: MMT code rows to a MIDI file (or a note array)."""

HELP = "decode MMT code rows (.npy/.csv) into a MIDI file (100 qpm) or a note array"


def add_arguments(parser):
    parser.add_argument(
        "codes", help=".npy/.csv with rows (type, beat, position, pitch, duration, instrument)"
    )
    parser.add_argument("out", help="output .mid/.midi, or .npy/.csv for the note array")


def run(args):
    from train_kit import paths

    paths.input_file(args.codes, "CODES", suffixes=(".npy", ".csv"))
    paths.output_file(args.out, "OUT", inputs=[args.codes], suffixes=(".mid", ".midi", ".npy", ".csv"))

    import numpy as np

    from mmt_jax import codec
    from mmt_jax import notes as notes_lib
    from music_codecs.errors import UserError

    codes = notes_lib.load_array(args.codes, 6)
    try:
        notes = codec.decode_notes(codes)
    except ValueError as err:
        raise UserError(f"{args.codes}: {err}") from None
    out = args.out.lower()
    if out.endswith((".mid", ".midi")):
        from music_codecs.midi_write import write_midi

        write_midi(codec.notes_to_table(notes), args.out)
    elif out.endswith(".csv"):
        notes_lib.save_csv(args.out, notes)
    elif out.endswith(".npy"):
        from music_codecs.atomic import atomic_file

        with atomic_file(args.out) as f:
            np.save(f, notes)
    else:
        raise UserError(f"{args.out}: output must end in .mid, .midi, .npy or .csv")
    print(f"{len(codes)} code rows -> {len(notes)} notes -> {args.out}")

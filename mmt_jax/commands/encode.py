"""`mmt-jax encode NOTES CODES`: a note array (or a music file) to MMT code rows."""

HELP = "encode a note array (.npy/.csv, or a MIDI/MusicXML file) into MMT code rows"


def add_arguments(parser):
    parser.add_argument(
        "notes",
        help="note array .npy/.csv with rows (beat, position, pitch, "
        "duration, program), or a .mid/.midi/.xml/.mxl file",
    )
    parser.add_argument(
        "codes", help="output .npy (or .csv) with rows (type, beat, position, pitch, duration, instrument)"
    )
    parser.add_argument(
        "--max-beat",
        type=int,
        default=1024,
        help="notes on later beats are skipped (the reference's MAX_BEAT)",
    )
    parser.add_argument(
        "--backend",
        choices=("symusic", "pretty_midi"),
        default="symusic",
        help="MIDI reader for a music-file input",
    )


def run(args):
    from train_kit import paths

    paths.input_file(args.notes, "NOTES")
    paths.output_file(args.codes, "CODES", inputs=[args.notes], suffixes=(".npy", ".csv"))
    paths.positive(args.max_beat, "--max-beat")

    import numpy as np

    from mmt_jax import codec
    from mmt_jax import notes as notes_lib
    from music_codecs.atomic import atomic_file

    path = args.notes
    stats = None
    if path.lower().endswith(notes_lib.MIDI_SUFFIXES + notes_lib.MUSICXML_SUFFIXES):
        stats = {}
        notes = notes_lib.file_to_notes(path, backend=args.backend, filters=False, stats=stats)
    else:
        notes = notes_lib.load_array(path, 5)
        programs = notes[:, 4][codec.PROGRAM_TO_INSTRUMENT[np.clip(notes[:, 4], 0, 127)] == 0]
        values, counts = np.unique(programs, return_counts=True)
        if len(values):
            print(
                f"skipped {len(programs):,} notes of programs outside MMT's 64 instruments ("
                + ", ".join(f"program {p}: {n:,}" for p, n in zip(values, counts))
                + ")"
            )
    try:
        codes = codec.encode_notes(notes, max_beat=args.max_beat)
    except ValueError as err:
        from music_codecs.errors import UserError

        raise UserError(f"{path}: {err}") from None
    if args.codes.lower().endswith(".csv"):
        notes_lib.save_csv(args.codes, codes, notes_lib.CODES_HEADER)
    else:
        with atomic_file(args.codes) as f:
            np.save(f, codes)
    skipped = int(np.sum(notes[:, 0] > args.max_beat)) if len(notes) else 0
    if stats is not None:
        print(f"{stats['notes_in']:,} notes read; " + notes_lib.describe_drops(stats))
    if skipped:
        print(f"skipped {skipped:,} notes after beat {args.max_beat} (--max-beat)")
    print(f"{len(notes)} notes -> {len(codes)} code rows -> {args.codes}")

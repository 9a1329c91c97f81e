"""`musegan-jax prepare`: music files -> one phrase file for training and evaluation."""

HELP = (
    "turn the built-in Bach chorales (default), a folder of MIDI/MusicXML/LPD .npz files, or a "
    "MuseGAN phrase file into 4-bar binary piano-roll phrases (84 pitches x 5 tracks)"
)


def add_arguments(parser):
    parser.add_argument(
        "--input",
        default="corpus",
        help="'corpus' (music21's Bach chorales), a folder, or a .npz phrase file",
    )
    parser.add_argument("--out", default="data/musegan/bach.npz", help="the phrase file to write")
    parser.add_argument(
        "--beat-resolution", type=int, default=24, help="steps per quarter (24: the paper's 96 per bar)"
    )
    parser.add_argument("--bars", type=int, default=4, help="bars per phrase")
    parser.add_argument("--limit", type=int, default=0, help="read at most this many files (0: all)")


def run(args):

    from musegan_jax import data
    from music_codecs.errors import UserError
    from train_kit import paths

    if args.input != "corpus":
        paths.input_path(args.input, "--input")
    paths.output_file(
        args.out, "--out", inputs=[None if args.input == "corpus" else args.input], suffixes=(".npz",)
    )
    paths.positive(args.beat_resolution, "--beat-resolution")
    paths.positive(args.bars, "--bars")
    paths.at_least(args.limit, 0, "--limit")
    phrases, report = data.prepare(args.input, args.beat_resolution, args.bars, args.limit or None)
    if not len(phrases):
        raise UserError(f"{args.input}: no phrases from {report.get('files', 0)} files; nothing written")
    data.save_phrases(args.out, phrases, args.beat_resolution, report)
    skipped = report.get("skipped", [])
    print(
        f"{args.out}: {len(phrases)} phrases of {phrases.shape[1]} bars x {phrases.shape[2]} steps from {report['files']} files"
    )
    if skipped:
        print(f"skipped {len(skipped)} files:")
        for name, why in skipped:
            print(f"  {name}: {why}")

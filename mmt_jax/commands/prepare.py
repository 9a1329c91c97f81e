"""`mmt-jax prepare`: a folder of MIDI/MusicXML files, or the music21 corpus, to MMT note arrays."""

import argparse

HELP = "prepare MIDI/MusicXML files or the music21 corpus into the MMT dataset layout"


def add_arguments(parser):
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--input", help="folder searched recursively for .mid/.midi/.xml/.mxl")
    source.add_argument(
        "--corpus", choices=("music21",), help="the corpus that ships with music21 (multi-part works)"
    )
    out = parser.add_mutually_exclusive_group(required=True)
    out.add_argument("--out", help="output folder (e.g. data/mmt/NAME)")
    out.add_argument("--output", dest="out", help=argparse.SUPPRESS)  # the old spelling
    parser.add_argument("--composers", help="corpus only: comma-separated composers (e.g. bach,beethoven)")
    parser.add_argument("--limit", type=int, help="prepare only the first N pieces")
    parser.add_argument("--workers", type=int, default=None, help="worker processes (default: one per core)")
    parser.add_argument(
        "--restart",
        action="store_true",
        help="read every piece again (default: a rerun into the same --out skips pieces already done)",
    )
    parser.add_argument(
        "--backend",
        choices=("symusic", "pretty_midi"),
        default="symusic",
        help="MIDI reader (both give the same notes)",
    )
    parser.add_argument(
        "--splits",
        help="folder holding train/valid/test-names.txt to reuse (e.g. the reference's data/sod/processed)",
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="seed of the 80/10/10 split when --splits is not given"
    )
    parser.add_argument(
        "--sod-names",
        action="store_true",
        help="name <collection>/<index>/<file> as <collection>/<collection>-"
        "<index>, as the reference names SOD pieces",
    )
    parser.add_argument("--min-notes", type=int, default=50, help="pieces with fewer notes are skipped")
    parser.add_argument("--quiet", action="store_true", help="no progress bar or skip list")


def run(args):
    from train_kit import paths

    if args.input:
        paths.input_dir(args.input, "--input")
    if args.splits:
        paths.input_dir(args.splits, "--splits")
    paths.output_dir(args.out, "--out")
    paths.at_least(args.limit, 1, "--limit")
    paths.at_least(args.workers, 1, "--workers")
    paths.at_least(args.min_notes, 0, "--min-notes")

    from mmt_jax import prepare
    from music_codecs.errors import UserError

    if args.input:
        if args.composers:
            raise UserError("--composers only applies to --corpus music21")
        items = prepare.find_music_files(args.input, sod_names=args.sod_names)
    else:
        composers = [c.strip() for c in args.composers.split(",")] if args.composers else None
        items = prepare.corpus_items(composers)
    if args.limit is not None:
        items = items[: args.limit]
    if not items:
        raise UserError("no MIDI or MusicXML files found" if args.input else "no corpus pieces")
    if args.workers is not None and args.workers < 1:
        raise UserError("--workers must be at least 1")
    report = prepare.prepare(
        items,
        args.out,
        backend=args.backend,
        workers=args.workers,
        splits_dir=args.splits,
        seed=args.seed,
        min_notes=args.min_notes,
        progress=not args.quiet,
        resume=not args.restart,
    )
    print(prepare.summary(report) if not args.quiet else prepare.summary({**report, "skipped": []}))
    print(f"report: {args.out}/prepare-report.json")
    if not report["kept"]:
        raise UserError(f"no piece of {len(items)} could be prepared (see the skip reasons above)")

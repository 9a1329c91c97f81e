"""`arranger-jax prepare`: build a labelled dataset with seeded train/valid/test splits."""

HELP = "build a part-labelled dataset (bach/quartets from the music21 corpus, or a local MIDI folder)"


def add_arguments(parser):
    parser.add_argument(
        "dataset",
        choices=("bach", "quartets", "musicnet", "nes", "lmd"),
        help="bach and quartets come with music21; musicnet, nes and lmd need --input",
    )
    parser.add_argument("--out", help="output folder (default: data/arranger/DATASET, which `train` reads)")
    parser.add_argument(
        "--input", "--source", dest="input", help="local folder of MIDI files (musicnet, nes, lmd)"
    )
    parser.add_argument(
        "--id-list",
        help="lmd: file whose first column lists the MIDI md5 ids to keep (the LPD 'cleansed' list)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--exact-split",
        action="store_true",
        help="cut a seeded shuffle 8:1:1 instead of the reference's independent "
        "per-file draws (default for quartets, whose 46 files can leave a split empty)",
    )
    parser.add_argument("--limit", type=int, help="only the first N corpus files (quick tries)")


def run(args):
    import json

    from arranger_jax import data
    from arranger_jax.config import default_data_path
    from music_codecs.errors import UserError
    from train_kit import paths

    out = args.out or default_data_path(args.dataset)
    if args.input:
        paths.input_dir(args.input, "--input")
    if args.id_list:
        paths.input_file(args.id_list, "--id-list")
    paths.output_dir(out, "--out", inputs=[args.input])
    paths.at_least(args.limit, 1, "--limit")
    given = None
    if args.dataset in ("bach", "quartets"):
        pieces, skipped = data.collect_corpus(args.dataset, limit=args.limit)
    else:
        if not args.input:
            raise UserError(f"{args.dataset} needs --input FOLDER with the dataset's MIDI files")
        ids = None
        if args.id_list:
            with open(args.id_list) as f:
                ids = {line.split()[0] for line in f if line.strip()}
        pieces, skipped, given = data.collect_folder(args.dataset, args.input, ids)
    if not pieces:
        raise UserError(f"no usable pieces found for {args.dataset} ({len(skipped)} skipped)")
    exact = args.exact_split or args.dataset == "quartets"
    from music_codecs.atomic import folder_lock

    with folder_lock(out, "another `arranger-jax prepare`"):
        info = data.save_dataset(
            pieces, skipped, out, args.dataset, seed=args.seed, given=given, exact_split=exact
        )
    print(json.dumps(info, indent=2))
    for name, reason in skipped[:20]:
        print(f"skipped {name}: {reason}")
    if len(skipped) > 20:
        print(f"... {len(skipped) - 20} more in {out}/skipped.txt")
    print(f"wrote {out}")

"""`musegan-jax generate`: sample phrases and write MIDI, WAV and piano-roll pictures."""

HELP = (
    "sample multitrack phrases from a trained run: MIDI (one named track per family, drums on "
    "channel 10), WAV and PNG per piece; --phrases N chains N phrases; --input PIANO.mid "
    "accompanies that track (conditional runs)"
)


def add_arguments(parser):
    parser.add_argument(
        "--checkpoint",
        required=True,
        help="run folder from `musegan-jax train`, or a shipped model's name (bach-hybrid)",
    )
    parser.add_argument("--out", default="samples/musegan", help="output folder")
    parser.add_argument("--num", type=int, default=4, help="pieces to write")
    parser.add_argument("--phrases", type=int, default=1, help="phrases per piece (4 bars each), chained")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--input", help="MIDI/MusicXML whose notes become the condition track (conditional runs)"
    )
    parser.add_argument("--qpm", type=float, default=120.0, help="tempo of the written files")
    parser.add_argument("--no-wav", action="store_true", help="skip audio")
    parser.add_argument("--renderer", default="auto", choices=("auto", "fluidsynth", "sine"))


def run(args):
    from pathlib import Path

    from train_kit import paths

    args.checkpoint = str(paths.run_dir(args.checkpoint, package="musegan_jax"))
    if args.input:
        paths.input_file(args.input, "--input")
    paths.output_dir(args.out, "--out", inputs=[args.checkpoint])
    paths.distinct_outputs(
        {
            Path(args.out) / f"sample_{i:03d}{s}": "a sample"
            for i in range(args.num)
            for s in (".mid", ".wav", ".png")
        },
        inputs=[args.input],
    )
    paths.positive(args.num, "--num")
    paths.positive(args.phrases, "--phrases")
    paths.positive(args.qpm, "--qpm")

    import numpy as np

    from musegan_jax.generate import condition_from_file, write_outputs
    from musegan_jax.load import load
    from music_codecs.errors import UserError

    trained = load(args.checkpoint)
    cfg = trained.config
    condition = None
    if cfg.model.conditional:
        if not args.input:
            raise UserError(
                f"{args.checkpoint} is a conditional run: give the {cfg.model.condition_track} track with --input"
            )
        condition = np.repeat(condition_from_file(args.input, trained, args.phrases), args.num, 0)
    elif args.input:
        raise UserError(
            f"{args.checkpoint} is not a conditional run; --input needs one (configs/musegan/hybrid_conditional.py)"
        )
    rolls = trained.sampler().sample(args.num, seed=args.seed, phrases=args.phrases, condition=condition)
    out = Path(args.out)
    from tqdm import tqdm

    written = []
    for i, roll in enumerate(tqdm(rolls, desc="writing", unit="piece")):
        paths = write_outputs(
            roll,
            cfg.data.beat_resolution,
            out / f"sample_{i:03d}",
            wav=not args.no_wav,
            qpm=args.qpm,
            renderer=args.renderer,
        )
        if i == 0:
            print(
                "wrote "
                + ", ".join(v for k, v in paths.items() if k != "renderer")
                + (f" (audio: {paths['renderer']})" if "renderer" in paths else "")
            )
        written.append(paths)
    print(f"{len(rolls)} pieces of {rolls.shape[1]} bars in {out}")
    used = {p["renderer"] for p in written if "renderer" in p}
    if used:
        from music_codecs.render import describe_renderer

        print("audio: " + "; ".join(describe_renderer(u) for u in sorted(used)))
    print(f"page: {_page(out, written, rolls.shape[1])}")


def _page(out, written, bars):
    """out/index.html: each piece's piano roll, player and downloads."""
    from pathlib import Path

    from music_codecs.html_page import Item, Section, write_page

    items = []
    for files in written:
        name = Path(files["midi"]).stem
        links = {k.upper(): Path(v).name for k, v in files.items() if k in ("midi", "wav")}
        wav = Path(files["wav"]).name if "wav" in files else None
        png = Path(files["png"]).name if "png" in files else None
        items.append(Item(name, png, wav, links, f"{bars} bars"))
    return write_page(Path(out) / "index.html", "MuseGAN samples", [Section("Samples", items)])

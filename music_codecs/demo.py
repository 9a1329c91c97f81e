"""Show the music layer on the built-in corpus: read a Bach chorale, write MIDI, WAV and a piano roll.

python -m music_codecs.demo [--out DIR] [--piece bach/bwv66.6]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m music_codecs.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="demo_out/codecs", help="folder for the files")
    parser.add_argument("--piece", default="bach/bwv66.6", help="music21 corpus name or a file path")
    parser.add_argument("--renderer", default="auto", choices=("auto", "fluidsynth", "sine"))
    args = parser.parse_args(argv)

    from music_codecs import metrics
    from music_codecs.errors import UserError
    from music_codecs.midi_read import read_midi
    from music_codecs.midi_write import write_midi
    from music_codecs.musicxml_read import read_corpus_piece
    from music_codecs.pianoroll import save_pianoroll_png
    from music_codecs.render import render_wav

    try:
        table = read_corpus_piece(args.piece)
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        stem = Path(args.piece).name
        if Path(stem).suffix.lower() in (".xml", ".mxl", ".musicxml", ".krn", ".abc", ".mid"):
            stem = Path(stem).stem
        midi = write_midi(table, out / f"{stem}.mid")
        back = read_midi(midi)
        wav = out / f"{stem}.wav"
        renderer = render_wav(table, wav, renderer=args.renderer)
        png = save_pianoroll_png(table, out / f"{stem}.png", title=f"{args.piece} (music21 corpus)")
    except UserError as err:
        print(f"demo: error: {err}", file=sys.stderr)
        return 2
    print(f"piece:      {args.piece}: {table}")
    print(f"MIDI:       {midi} (read back identical: {back.equals(table)})")
    if renderer == "fluidsynth":
        from music_codecs.render import find_soundfont

        renderer = f"fluidsynth with {find_soundfont()}"
    else:
        renderer += " (pretty_midi sine waves: FluidSynth or a General MIDI soundfont is missing)"
    print(f"WAV:        {wav} (renderer: {renderer})")
    print(f"piano roll: {png}")
    print(
        f"metrics:    pitch-class entropy {metrics.pitch_class_entropy(table):.3f}, "
        f"scale consistency {metrics.scale_consistency(table):.3f}, "
        f"groove consistency {metrics.groove_consistency(table, 4 * table.resolution):.3f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""CLIPSonic on the built-in synthetic clips, end to end: train the tiny audio model and the tiny
prior when their run folders are missing, then answer text queries through CLIP alone (ZS) and
through the prior (PD), writing a WAV and a mel PNG for each and naming the colour class whose
pitch each generated clip has.

    python -m clipsonic_jax.demo [--text "a red shape" "a cyan shape"] [--out demo_out/clipsonic]
"""

from __future__ import annotations

import argparse
import os
import re
import sys


def _train_if_missing(config, run_dir, steps, train_fn):
    from train_kit.config import load_config

    if os.path.exists(os.path.join(run_dir, "run.json")):
        print(f"using {run_dir}")
        return
    over = [f"train.out_dir={run_dir}", f"train.max_steps={steps}", f"optim.decay_steps={steps}"]
    over.append(f"train.eval_every={max(steps // 4, 1)}")
    train_fn(load_config(config, over))


def main(argv=None):
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    parser = argparse.ArgumentParser(prog="python -m clipsonic_jax.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--text", nargs="+", default=["a red shape", "a blue shape", "a cyan shape"])
    parser.add_argument("--out", default="demo_out/clipsonic", help="folder for the WAVs and PNGs")
    parser.add_argument("--run", default="runs/clipsonic/tiny", help="audio run (trained if missing)")
    parser.add_argument("--prior", default="runs/clipsonic/prior-tiny", help="prior run (trained if missing)")
    parser.add_argument("--audio-steps", type=int, default=800)
    parser.add_argument("--prior-steps", type=int, default=1500)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    from clipsonic_jax import data, pitch_eval, prior_train, train
    from clipsonic_jax.generate import write_outputs
    from clipsonic_jax.load import load
    from clipsonic_jax.prior_load import load as load_prior
    from music_codecs.errors import UserError

    try:
        cfgs = os.path.join(here, "configs", "clipsonic")
        _train_if_missing(os.path.join(cfgs, "tiny.py"), args.run, args.audio_steps, train.train)
        _train_if_missing(
            os.path.join(cfgs, "prior_tiny.py"), args.prior, args.prior_steps, prior_train.train
        )
        model, prior = load(args.run), load_prior(args.prior)
        clip = model.clip()
        d = model.cfg.data
        cache = data.prepare(
            d.path, d.cache_dir or os.path.join(d.path, ".clipsonic-cache"), clip, model.cfg.mel
        )
        train_idx, _ = data.split(len(cache.names), d.eval_every_nth)
        bands = pitch_eval.class_bands(cache.mels[train_idx], [cache.labels[i] for i in train_idx])
        queries = {
            "ZS": clip.embed_texts(args.text),
            "PD": prior.text_to_image(clip, args.text, seed=args.seed),
        }
        for kind, emb in queries.items():
            mels = model.generate(emb, seed=args.seed)
            heard = pitch_eval.classify(mels, bands)
            for text, mel, cls in zip(args.text, mels, heard):
                stem = os.path.join(
                    args.out, f"{kind.lower()}_{re.sub(r'[^A-Za-z0-9]+', '_', text).strip('_')}"
                )
                wav, png = write_outputs(stem, mel, model, title=f"CLIPSonic-{kind}: {text}")
                print(f"CLIPSonic-{kind} {text!r}: sounds like {cls!r} -> {wav}, {png}")
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

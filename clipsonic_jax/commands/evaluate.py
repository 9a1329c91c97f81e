"""`clipsonic-jax evaluate`: pitch accuracy of generated audio on held-out synthetic clips."""

HELP = "on the synthetic set: does generated audio have the pitch of the image's colour? (vs chance)"


def add_arguments(parser):
    parser.add_argument("--checkpoint", required=True, help="a trained run folder (run.json + params/)")
    parser.add_argument(
        "--data",
        help="a folder of unseen synthetic clips: all of them are evaluated "
        "(default: the held-out clips of the run's data.path)",
    )
    parser.add_argument("--steps", type=int)
    parser.add_argument("--guidance", type=float)
    parser.add_argument("--seed", type=int, default=0)


def run(args):
    import os

    import numpy as np

    from clipsonic_jax import data
    from clipsonic_jax.load import load
    from clipsonic_jax.pitch_eval import pitch_accuracy
    from music_codecs.errors import UserError

    model = load(args.checkpoint)
    d = model.cfg.data
    data_dir = args.data or d.path
    cache = data.prepare(
        data_dir, d.cache_dir or os.path.join(data_dir, ".clipsonic-cache"), model.clip(), model.cfg.mel
    )
    train_idx, eval_idx = data.split(len(cache.names), d.eval_every_nth)
    if args.data:  # an unseen folder: evaluate every clip; class bands from its real audio
        train_idx = eval_idx = np.arange(len(cache.names))
    if not len(eval_idx):
        raise UserError("no held-out clips (data.eval_every_nth is 0)")
    try:
        r = pitch_accuracy(model, cache, eval_idx, train_idx, args.seed, args.steps, args.guidance)
    except ValueError as err:
        raise UserError(str(err)) from err
    print(
        f"pitch accuracy {r['accuracy']:.3f} on {r['n']} held-out clips (chance {r['chance']:.3f}; "
        f"real audio {r['real_audio_accuracy']:.3f})"
    )

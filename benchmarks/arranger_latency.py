"""Arranger online labelling speed: per-note latency of the streaming online models (LSTM state,
Transformer-Dec key/value ring buffer) against re-running the whole prefix for every new note
(what a whole-sequence model must do live), and the batch throughput (notes/s) of each
whole-sequence model.

    python benchmarks/arranger_latency.py [--notes 200] [--units 128] [--json /tmp/arranger_latency.json]
"""

import argparse
import json
import time

import jax
import jax.numpy as jnp
import numpy as np

from arranger_jax import data
from arranger_jax import features as F
from arranger_jax.models import ArrangerConfig, build_model
from arranger_jax.streaming import StreamingLabeller, note_inputs


def _piece(n, seed=0):
    rng = np.random.default_rng(seed)
    return data.Piece(
        "bench",
        np.sort(rng.integers(0, 24 * n // 2, n)),
        rng.integers(40, 80, n),
        rng.integers(1, 48, n),
        np.full(n, 64),
        rng.integers(0, 4, n),
    )


def measure(config, args):
    """(streaming ms/note, prefix re-run ms/note, whole-sequence notes/s) for one model."""
    model = build_model(config)
    inputs, _ = F.piece_inputs(_piece(args.notes), 4, max_len=None)
    x = {k: jnp.asarray(v)[None] for k, v in inputs.items()}
    params = model.init(jax.random.key(0), x)["params"]

    # streaming: one jitted step per note
    labeller = StreamingLabeller(config, params)
    notes = [note_inputs(x, i) for i in range(args.notes)]
    labeller.step(labeller.start(), notes[0])[0].block_until_ready()  # compile
    state = labeller.start()
    start = time.perf_counter()
    for note in notes:
        logits, state = labeller.step(state, note)
    logits.block_until_ready()
    stream_ms = 1000 * (time.perf_counter() - start) / args.notes

    # baseline: re-run the whole prefix, padded to the full length (one compile), at each note
    apply = jax.jit(lambda p, inp: model.apply({"params": p}, inp))
    apply(params, x).block_until_ready()
    timed = min(args.notes, 50)
    start = time.perf_counter()
    for i in range(timed):
        prefix = {
            k: (
                v
                if k == "pitch_hint"
                else jnp.where((jnp.arange(args.notes) <= i).reshape((1, -1) + (1,) * (v.ndim - 2)), v, 0)
            )
            for k, v in x.items()
        }
        apply(params, prefix).block_until_ready()
    prefix_ms = 1000 * (time.perf_counter() - start) / timed

    # batch throughput of the whole-sequence model
    examples = [
        F.training_window(_piece(args.length, s), 4, np.random.default_rng(s), args.length, None)
        for s in range(args.batch)
    ]
    batch = {k: jnp.asarray(v) for k, v in F.batch(examples)[0].items()}
    apply(params, batch).block_until_ready()
    reps = 3
    start = time.perf_counter()
    for _ in range(reps):
        apply(params, batch).block_until_ready()
    throughput = reps * args.batch * args.length / (time.perf_counter() - start)
    return stream_ms, prefix_ms, throughput


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notes", type=int, default=200, help="notes in the streamed piece")
    parser.add_argument("--units", type=int, default=128)
    parser.add_argument("--batch", type=int, default=16, help="pieces per batch for the throughput column")
    parser.add_argument("--length", type=int, default=500, help="notes per piece for the throughput column")
    parser.add_argument("--json", default="/tmp/arranger_latency.json")
    args = parser.parse_args()

    print(
        f"device: {jax.devices()[0].device_kind}, jax {jax.__version__}, units {args.units}, "
        f"{args.notes}-note stream (Transformer-Dec ring buffer: 2000 notes)"
    )
    header = (
        f"{'model':<16} {'stream ms/note':>14} {'re-run prefix ms/note':>22} "
        f"{'speed-up':>9} {f'batch {args.batch}x{args.length} notes/s':>24}"
    )
    print(header)
    result = {
        "device": jax.devices()[0].device_kind,
        "jax": jax.__version__,
        "units": args.units,
        "notes": args.notes,
        "models": {},
    }
    for name, arch in (("LSTM", "lstm"), ("Transformer-Dec", "transformer")):
        config = ArrangerConfig(num_parts=4, arch=arch, online=True, units=args.units)
        stream_ms, prefix_ms, throughput = measure(config, args)
        print(
            f"{name:<16} {stream_ms:>14.3f} {prefix_ms:>22.3f} {prefix_ms / stream_ms:>8.1f}x "
            f"{throughput:>24,.0f}",
            flush=True,
        )
        result["models"][name] = {
            "stream_ms_per_note": stream_ms,
            "prefix_ms_per_note": prefix_ms,
            "batch_notes_per_s": throughput,
        }
    with open(args.json, "w") as f:
        json.dump(result, f, indent=2)
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()

"""MMT sampling speed: the compiled cached sampler against the reference-style no-cache loop.

    python benchmarks/sample_speed.py                                  # paper model, 1024 events
    python benchmarks/sample_speed.py --batches 1 --baseline-events 128  # a quick CPU run
    python benchmarks/sample_speed.py --table2 --checkpoint runs/mmt/tiny

Like the reference measurement (reference mmt.md §8), the weights are random and the type head's
bias for "note" is raised by 100, so every generated event is a note and no row ends early:
N events = N notes. Reported per batch size: ms per step, notes/s, and the memory bandwidth the
step achieves, (parameter bytes + key/value cache bytes read per step) / step time. The
baseline (mmt_jax.sample.baseline_sample) re-runs the whole window every step as the reference
does, with the same sampling code; being slow, it may run fewer events (--baseline-events) and
batches (--baseline-batches). Its time over the full event count is then also estimated by
timing one step at every window size it would use and summing (column "base est").

--table2: the paper's Table 2 protocol (reference §5.2): unconditional samples at batch 1 that stop
at end-of-song; notes/s = all notes / all generation time, and mean sample length in seconds
at 100 qpm. Meaningful with a trained --checkpoint (random weights end at once).
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import platform
import time


def _ints(text):
    return [int(v) for v in str(text).split(",") if v.strip()]


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="paper", choices=("paper", "tiny"))
    p.add_argument("--dtype", default="float32", choices=("float32", "bfloat16"))
    p.add_argument("--events", type=int, default=1024, help="generated events per sample")
    p.add_argument(
        "--batches", type=_ints, default=None, help="default 1,8,64,256 (none with --table2 unless given)"
    )
    p.add_argument("--baseline-events", type=int, default=None, help="default: --events")
    p.add_argument("--baseline-batches", type=_ints, default=None, help="default: --batches")
    p.add_argument("--no-baseline", action="store_true")
    p.add_argument(
        "--no-estimate",
        action="store_true",
        help="skip the per-window estimate of the baseline over --events",
    )
    p.add_argument("--repeats", type=int, default=1, help="timed runs of the sampler (best)")
    p.add_argument("--table2", action="store_true", help="run the paper's Table 2 protocol")
    p.add_argument("--table2-samples", type=int, default=100)
    p.add_argument("--checkpoint", help="trained weights for --table2 (default: random)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", default="/tmp/mmt_sample_speed.json")
    return p.parse_args(argv)


def model_config(name, dtype):
    from mmt_jax.model import MMTConfig

    make = MMTConfig if name == "paper" else MMTConfig.tiny
    return make(dtype=dtype, param_dtype=dtype, dropout=0.0)


def note_forced_params(cfg, seed=0, note_bias=100.0):
    """Random weights with the note type's bias raised by 100 (every event a note)."""
    import jax
    import jax.numpy as jnp
    from flax import linen as nn

    from mmt_jax.codec import NOTE
    from mmt_jax.model import MusicTransformer

    init = jax.jit(lambda k: MusicTransformer(cfg).init(k, jnp.zeros((1, 8, 6), jnp.int32)))
    params = nn.meta.unbox(init(jax.random.key(seed)))["params"]
    bias = params["heads_0"]["bias"]
    params["heads_0"]["bias"] = bias.at[NOTE].add(jnp.asarray(note_bias, bias.dtype))
    return params


def nbytes(tree):
    import jax

    return sum(x.size * x.dtype.itemsize for x in jax.tree.leaves(tree))


def cache_bytes(cfg, batch):
    """Bytes of keys and values one decode step reads (the whole cache, every layer)."""
    import jax.numpy as jnp

    return 2 * cfg.depth * batch * cfg.max_seq_len * cfg.heads * cfg.head_dim * jnp.dtype(cfg.dtype).itemsize


def time_cached(params, scfg, batch, events, repeats):
    import numpy as np

    from mmt_jax.sample import sample

    prompts = [np.zeros((1, 6), np.int64)] * batch
    sample(params, scfg, prompts, 2)  # compile (the event count is traced: same executable)
    best, notes = float("inf"), 0
    for r in range(repeats):
        start = time.perf_counter()
        out = sample(params, scfg, prompts, events, seed=r)  # returns NumPy: synchronised
        best = min(best, time.perf_counter() - start)
        notes = sum(int((g[:, 0] == 3).sum()) for g in out.generated())
    return best, notes, out.steps


def time_baseline(params, scfg, batch, events, estimate_events):
    """(seconds for `events` steps, notes, estimated seconds for `estimate_events` steps)."""
    import numpy as np

    from mmt_jax.sample import (
        _baseline_step,
        _prepare,
        _temperatures,
        baseline_bucket_sizes,
        baseline_sample,
        start_events,
    )

    prompts = [np.zeros((1, 6), np.int64)] * batch
    prompt, prompt_len, keys = _prepare(scfg, prompts, None, 0)
    temperature = _temperatures(1.0)
    ev = start_events(scfg, prompt, prompt_len)
    sizes = baseline_bucket_sizes(scfg, 1, max(events, estimate_events or 0))
    step_time = {}
    for size in sorted(set(sizes)):  # compile every window size, then time one step of each
        _baseline_step(scfg, size, params, ev, prompt_len, temperature, keys).step.block_until_ready()
        if estimate_events:
            runs = []
            for _ in range(2):
                start = time.perf_counter()
                _baseline_step(scfg, size, params, ev, prompt_len, temperature, keys).step.block_until_ready()
                runs.append(time.perf_counter() - start)
            step_time[size] = min(runs)
    estimate = None
    if estimate_events:
        counts = collections.Counter(sizes[:estimate_events])
        estimate = sum(step_time[s] * n for s, n in counts.items())
    seconds, notes = None, None
    if events:
        baseline_sample(params, scfg, prompts, 1)  # compile the prompt set-up
        start = time.perf_counter()
        out = baseline_sample(params, scfg, prompts, events, seed=0)
        seconds = time.perf_counter() - start
        notes = sum(int((g[:, 0] == 3).sum()) for g in out.generated())
    return seconds, notes, estimate


def run_speed(args, cfg):
    from mmt_jax.sample import SamplerConfig

    params = note_forced_params(cfg, args.seed)
    p_bytes = nbytes(params)
    scfg = SamplerConfig(cfg, max_events=args.events)
    base_events = args.events if args.baseline_events is None else args.baseline_events
    base_batches = args.batches if args.baseline_batches is None else args.baseline_batches
    rows = []
    for batch in args.batches:
        seconds, notes, steps = time_cached(params, scfg, batch, args.events, args.repeats)
        step = seconds / steps
        row = dict(
            batch=batch,
            events=steps,
            seconds=seconds,
            ms_per_step=1e3 * step,
            notes=notes,
            notes_per_s=notes / seconds,
            gb_per_s=(p_bytes + cache_bytes(cfg, batch)) / step / 1e9,
        )
        if not args.no_baseline and batch in base_batches:
            estimate_events = 0 if args.no_estimate or base_events >= args.events else args.events
            b_sec, b_notes, b_est = time_baseline(params, scfg, batch, base_events, estimate_events)
            if b_sec is not None:
                cached_same = seconds * base_events / steps  # the cached loop's cost is flat
                row.update(
                    base_events=base_events,
                    base_seconds=b_sec,
                    base_ms_per_step=1e3 * b_sec / base_events,
                    base_notes_per_s=b_notes / b_sec,
                    speedup_at_base_events=b_sec / cached_same,
                )
            if b_est is not None:
                row.update(
                    base_estimate_seconds=b_est,
                    base_estimate_notes_per_s=batch * args.events / b_est,
                    speedup_estimate=b_est / seconds,
                )
            elif b_sec is not None and base_events == args.events:
                row["speedup"] = b_sec / seconds
        rows.append(row)
        print_row(row)
    return dict(param_bytes=p_bytes, rows=rows)


HEADER = (
    f"{'batch':>5} {'events':>6} {'ms/step':>9} {'notes/s':>10} {'GB/s':>7} | "
    f"{'base ev':>7} {'base ms/step':>12} {'base notes/s':>12} {'speedup':>8} | "
    f"{'base est (s)':>12} {'speedup est':>11}"
)


def _fmt(row, key, spec):
    return format(row[key], spec) if key in row else format("-", spec.split(".")[0] + "s")


def print_row(row):
    speed = row.get("speedup", row.get("speedup_at_base_events"))
    print(
        f"{row['batch']:>5} {row['events']:>6} {row['ms_per_step']:>9.2f} "
        f"{row['notes_per_s']:>10.1f} {row['gb_per_s']:>7.2f} | "
        f"{_fmt(row, 'base_events', '>7')} {_fmt(row, 'base_ms_per_step', '>12.1f')} "
        f"{_fmt(row, 'base_notes_per_s', '>12.2f')} "
        f"{format(speed, '>7.1f') + 'x' if speed else format('-', '>8s')} | "
        f"{_fmt(row, 'base_estimate_seconds', '>12.1f')} "
        f"{format(row['speedup_estimate'], '>10.1f') + 'x' if 'speedup_estimate' in row else format('-', '>11s')}",
        flush=True,
    )


def run_table2(args, cfg):
    """Unconditional samples at batch 1 stopping at EOS: notes/s and mean length (s)."""
    from mmt_jax.speed_test import table2

    if args.checkpoint:
        from mmt_jax.load import load

        params, run_cfg = load(args.checkpoint)
        cfg = run_cfg.model
    else:
        params = note_forced_params(cfg, args.seed, note_bias=0.0)
    result = table2(params, cfg, num_samples=args.table2_samples, max_events=args.events, seed=args.seed)
    result["weights"] = args.checkpoint or "random (not meaningful)"
    print(
        f"Table 2 protocol: {result['samples']} samples, {result['notes']} notes in "
        f"{result['seconds']:.2f} s -> {result['notes_per_s']:.1f} notes/s; mean length "
        f"{result['mean_length_s']:.2f} s at 100 qpm (paper: 11.79 notes/s, 100.42 s); "
        f"weights: {result['weights']}"
    )
    return result


def main(argv=None):
    args = parse_args(argv)
    if args.batches is None:
        args.batches = [] if args.table2 else [1, 8, 64, 256]
    import jax

    cfg = model_config(args.model, args.dtype)
    device = jax.devices()[0]
    meta = dict(
        jax=jax.__version__,
        device=device.device_kind,
        platform=device.platform,
        cpus=os.cpu_count(),
        machine=platform.processor() or platform.machine(),
        model=args.model,
        dtype=args.dtype,
        events=args.events,
    )
    print(
        f"MMT sampler speed: {args.model} model ({args.dtype}), {args.events} events, "
        f"jax {jax.__version__} on {device.platform} ({device.device_kind}, "
        f"{os.cpu_count()} CPUs); every event forced to be a note"
    )
    base_events = args.events if args.baseline_events is None else args.baseline_events
    if not args.no_baseline and args.batches:
        print(
            f"baseline (no cache, full window each step): {base_events} events at batches "
            f"{args.baseline_batches or args.batches}"
        )
    result = dict(meta=meta)
    if args.batches:
        print(HEADER)
        result["speed"] = run_speed(args, cfg)
    if args.table2:
        result["table2"] = run_table2(args, cfg)
    with open(args.json, "w") as f:
        json.dump(result, f, indent=2)
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()

"""MMT sampling speed: the compiled cached sampler against the reference-style no-cache loop
and the PyTorch reference (x-transformers 0.25.9, same weights).

    python benchmarks/sample_speed.py                                  # paper model, 1024 events
    python benchmarks/sample_speed.py --batches 1 --baseline-events 128  # a quick CPU run
    python benchmarks/sample_speed.py --events 256 --batches 1,8 --dtype float32,bfloat16/float32,bfloat16 \
        --no-baseline --torch --step-lengths 128,512,1024            # the issue-19 CPU table
    python benchmarks/sample_speed.py --table2 --checkpoint runs/mmt/tiny

--torch: the PyTorch model of benchmarks/torch_mmt.py (the reference's structure and decoding
loop: no cache, a full forward every step), holding our weights through mmt_jax.convert; its
logits are checked against ours before timing. --torch-threads sets torch's thread count
(default 1, as the reference measurement). --step-lengths: the cost of one cached decode step
with that many events in the cache, with prefix attention (--prefix-block) and over the whole
cache (block 0), so the growth with length shows.

Like the reference measurement (reference mmt.md §8), the weights are random and the type head's
bias for "note" is raised by 100, so every generated event is a note and no row ends early:
N events = N notes. Reported per batch size: ms per step, notes/s, and the memory bandwidth the
step achieves, (parameter bytes + key/value cache bytes read per step) / step time. Beside it,
the device's read bandwidth, measured in the same run (jitted reductions over a 512 MB array),
gives a ceiling: the notes/s of a step that did nothing but read those bytes once at that
rate, which no implementation holding the same weights and cache can beat (column "ceiling";
in the PyTorch table, "ceiling x" is that ceiling over PyTorch's notes/s). It is meant for the
paper model: a model small enough to stay in the CPU's caches (--model tiny) reads faster. The
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
import functools
import json
import os
import platform
import time


def _ints(text):
    return [int(v) for v in str(text).split(",") if v.strip()]


PRECISIONS = ("float32", "bfloat16", "bfloat16/float32")


def _names(text):
    names = [v.strip() for v in str(text).split(",") if v.strip()]
    bad = [n for n in names if n not in PRECISIONS]
    if bad:
        raise argparse.ArgumentTypeError(f"unknown dtype {bad[0]!r} ({', '.join(PRECISIONS)})")
    return names


def precision(name):
    """ "weights[/cache]" -> (dtype, cache_dtype)."""
    weights, _, cache = name.partition("/")
    return weights, cache or weights


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="paper", choices=("paper", "tiny"))
    p.add_argument(
        "--dtype",
        type=_names,
        default=["float32"],
        help="decoding precisions, comma-separated: float32, bfloat16, bfloat16/float32 "
        "(bfloat16 weights, float32 cache)",
    )
    p.add_argument("--prefix-block", type=int, default=128, help="cache block of prefix attention (0: all)")
    p.add_argument("--prefix", default="buckets", choices=("buckets", "blocks"), help="prefix attention mode")
    p.add_argument("--torch", action="store_true", help="also time the PyTorch reference (bench extra)")
    p.add_argument("--torch-batches", type=_ints, default=None, help="default: --batches")
    p.add_argument("--torch-events", type=int, default=None, help="default: --events")
    p.add_argument("--torch-threads", type=int, default=1)
    p.add_argument("--torch-device", default="cpu", help="cpu or cuda")
    p.add_argument("--step-lengths", type=_ints, default=[], help="filled lengths for the per-step table")
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


def model_config(name):
    from mmt_jax.model import MMTConfig

    make = MMTConfig if name == "paper" else MMTConfig.tiny
    return make(dropout=0.0)


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


def read_bandwidth(megabytes=512, repeats=5):
    """Bytes per second the default device reads: the best of `repeats` jitted sums and maxima
    over a float32 array of `megabytes` (far larger than any CPU cache)."""
    import jax
    import jax.numpy as jnp

    x = jnp.ones((megabytes << 18,), jnp.float32)
    best = float("inf")
    for reduce in (jax.jit(jnp.sum), jax.jit(jnp.max)):
        reduce(x).block_until_ready()
        for _ in range(repeats):
            start = time.perf_counter()
            reduce(x).block_until_ready()
            best = min(best, time.perf_counter() - start)
    return x.nbytes / best


def cpu_model():
    """The processor's model name (Linux), else what `platform` knows."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cache_bytes(cfg, batch, dtype, slots=None):
    """Bytes of keys and values one decode step reads over `slots` cache slots (default all)."""
    import jax.numpy as jnp

    slots = cfg.max_seq_len if slots is None else slots
    return 2 * cfg.depth * batch * slots * cfg.heads * cfg.head_dim * jnp.dtype(dtype).itemsize


def mean_slots_read(scfg, prompt_len, events):
    """Cache slots a step reads on average over a generation from 1-row prompts (padded to 8 as
    mmt_jax.sample.pad_prompts does): the smallest prefix bucket holding the filled length,
    or the whole cache when the call's layout attends over all of it."""
    slots, _, block = scfg.cache_layout(8)

    def read(n):
        size = block or slots
        while size < n:
            size *= 2
        return min(size, slots)

    filled = [min(prompt_len + t, slots) for t in range(1, events + 1)]
    return sum(read(n) for n in filled) / len(filled)


def time_decode_step(params, scfg, batch, lengths, reps=20):
    """Seconds of one cached decode step (the model only) with n events in the cache, per n,
    with the cache a call generating n events from a 1-event prompt gets (SamplerConfig.
    cache_layout: its own length and blocks while it fits in half the window)."""
    import dataclasses

    import jax
    import jax.numpy as jnp
    from jax import lax

    from mmt_jax.model import MusicTransformer, init_cache
    from mmt_jax.sample import cast_params

    model = MusicTransformer(scfg.decode_model)
    vars_ = {"params": cast_params(params, scfg.dtype)}

    @functools.partial(jax.jit, static_argnums=2)
    def run(cache, index, block):
        event = jnp.zeros((batch, 1, 6), jnp.int32).at[..., 0].set(3)

        def body(_, carry):
            cache, acc = carry
            logits, cache = model.apply(
                vars_,
                event,
                cache,
                index,
                None,
                block,
                scfg.prefix,
                method=MusicTransformer.decode,
            )
            return cache, acc + logits[0][0, 0, 0]

        return lax.fori_loop(0, reps, body, (cache, jnp.zeros((), jnp.float32)))

    out = {}
    for n in lengths:
        slots, cache_block, block = dataclasses.replace(scfg, max_events=n).cache_layout(1)
        cache = init_cache(scfg.decode_model, batch, slots, scfg.cache_dtype, cache_block)
        index = jnp.asarray(min(n, scfg.model.max_seq_len) - 1, jnp.int32)
        cache, acc = run(cache, index, block)  # compile and warm up
        acc.block_until_ready()
        best = float("inf")
        for _ in range(2):
            start = time.perf_counter()
            cache, acc = run(cache, index, block)
            acc.block_until_ready()
            best = min(best, (time.perf_counter() - start) / reps)
        out[n] = best
    return out


def time_torch(params, cfg, batch, events, threads, seed=0, device="cpu"):
    """(seconds, notes) of the PyTorch reference generating `events` events per row."""
    import torch
    import torch_mmt

    torch.set_num_threads(threads)
    net = torch_mmt.from_params(params, cfg, device)
    worst = torch_mmt.check_logits(net, params, cfg, atol=1e-4 if device == "cpu" else 5e-2)
    prompt = torch.zeros((batch, 1, 6), dtype=torch.long, device=device)
    net.generate(prompt, 2)  # warm-up
    gen = torch.Generator(device=device).manual_seed(seed)
    start = time.perf_counter()
    out = net.generate(prompt, events, generator=gen)
    if device != "cpu":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    return seconds, int((out[..., 0] == 3).sum()), worst


def time_cached(params, scfg, batch, events, repeats):
    import numpy as np

    from mmt_jax.sample import sample

    prompts = [np.zeros((1, 6), np.int64)] * batch
    sample(params, scfg, prompts, 2)  # compile (the event count is traced: same executable)
    cache = sample(params, scfg, prompts, 2, return_cache=True).cache  # ... and with a cache given
    start = time.perf_counter()
    sample(params, scfg, prompts, 1)
    fixed = time.perf_counter() - start  # a one-event call: the cost that does not scale
    start = time.perf_counter()
    cache = sample(params, scfg, prompts, 1, cache=cache, return_cache=True).cache
    fixed_reused = time.perf_counter() - start
    del cache
    best, notes = float("inf"), 0
    for r in range(repeats):
        start = time.perf_counter()
        out = sample(params, scfg, prompts, events, seed=r)  # returns NumPy: synchronised
        best = min(best, time.perf_counter() - start)
        notes = sum(int((g[:, 0] == 3).sum()) for g in out.generated())
    return best, notes, out.steps, fixed, fixed_reused


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


def run_speed(args, cfg, params, bandwidth):
    import jax.numpy as jnp

    from mmt_jax.sample import SamplerConfig

    base_events = args.events if args.baseline_events is None else args.baseline_events
    base_batches = args.batches if args.baseline_batches is None else args.baseline_batches
    rows = []
    for dtype, batch in [(d, b) for b in args.batches for d in args.dtype]:
        weights, cache_dtype = precision(dtype)
        scfg = SamplerConfig(
            cfg,
            max_events=args.events,
            dtype=weights,
            cache_dtype=cache_dtype,
            prefix_block=args.prefix_block,
            prefix=args.prefix,
        )
        p_bytes = nbytes(params) * jnp.dtype(weights).itemsize // 4
        seconds, notes, steps, fixed, fixed_reused = time_cached(
            params, scfg, batch, args.events, args.repeats
        )
        step = seconds / steps
        slots = mean_slots_read(scfg, 1, steps)
        step_bytes = p_bytes + cache_bytes(cfg, batch, cache_dtype, slots)
        row = dict(
            dtype=dtype,
            batch=batch,
            events=steps,
            seconds=seconds,
            ms_per_step=1e3 * step,
            notes=notes,
            notes_per_s=notes / seconds,
            gb_per_s=step_bytes / step / 1e9,
            # a step that only read its bytes once at the measured bandwidth
            ceiling_notes_per_s=notes / steps * bandwidth / step_bytes,
            one_event_call_s=fixed,
            one_event_call_reused_cache_s=fixed_reused,
        )
        if not args.no_baseline and batch in base_batches and dtype == args.dtype[0]:
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
    return dict(param_bytes=nbytes(params), rows=rows)


HEADER = (
    f"{'dtype':>16} {'batch':>5} {'events':>6} {'ms/step':>9} {'notes/s':>10} {'GB/s':>7} {'ceiling':>8} "
    f"{'1-ev call':>9} | "
    f"{'base ev':>7} {'base ms/step':>12} {'base notes/s':>12} {'speedup':>8} | "
    f"{'base est (s)':>12} {'speedup est':>11}"
)


def _fmt(row, key, spec):
    return format(row[key], spec) if key in row else format("-", spec.split(".")[0] + "s")


def print_row(row):
    speed = row.get("speedup", row.get("speedup_at_base_events"))
    print(
        f"{row['dtype']:>16} {row['batch']:>5} {row['events']:>6} {row['ms_per_step']:>9.2f} "
        f"{row['notes_per_s']:>10.1f} {row['gb_per_s']:>7.2f} {row['ceiling_notes_per_s']:>8.0f} "
        f"{row['one_event_call_s']:>8.3f}s | "
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


def _ratios(row, key, dtypes, width):
    """The row's `key`_<dtype> ratios, one column each ("-" where missing)."""
    return " ".join(
        f"{row[f'{key}_{d}']:>{width - 1}.1f}x" if f"{key}_{d}" in row else f"{'-':>{width}}" for d in dtypes
    )


def run_torch(args, cfg, params, ours):
    """PyTorch reference rows beside ours (same weights, logits checked first)."""
    batches = args.torch_batches or args.batches or [1]
    events = args.torch_events or args.events
    print(
        f"\nPyTorch reference (x-transformers 0.25.9, no cache) on {args.torch_device}, "
        f"torch.get_num_threads() = {args.torch_threads}, "
        f"{events} events; ours at {args.events} events"
    )
    print(
        f"{'batch':>5} {'torch s':>9} {'torch notes/s':>14} | "
        + " ".join(f"{d + ' ×':>12}" for d in args.dtype)
        + " | "
        + " ".join(f"{d + ' ceiling ×':>20}" for d in args.dtype)
    )
    rows = []
    for batch in batches:
        seconds, notes, worst = time_torch(
            params, cfg, batch, events, args.torch_threads, args.seed, args.torch_device
        )
        row = dict(batch=batch, events=events, threads=args.torch_threads, seconds=seconds, notes=notes)
        row.update(notes_per_s=notes / seconds, logits_max_diff=worst)
        for r in ours:
            if r["batch"] == batch:
                row[f"speedup_{r['dtype']}"] = r["notes_per_s"] / row["notes_per_s"]
                row[f"ceiling_{r['dtype']}"] = r["ceiling_notes_per_s"] / row["notes_per_s"]
        rows.append(row)
        print(
            f"{batch:>5} {seconds:>9.2f} {row['notes_per_s']:>14.2f} | "
            f"{_ratios(row, 'speedup', args.dtype, 12)} | {_ratios(row, 'ceiling', args.dtype, 20)}",
            flush=True,
        )
    return rows


def run_steps(args, cfg, params):
    """ms per cached decode step at each filled length: prefix blocks against the whole cache."""
    from mmt_jax.sample import SamplerConfig

    print(f"\ncached decode step (model only), ms, by events in the cache (prefix block {args.prefix_block})")
    print(f"{'dtype':>16} {'batch':>5} {'attention':>10} " + " ".join(f"{n:>8}" for n in args.step_lengths))
    rows = []
    for dtype, batch in [(d, b) for b in args.batches[:2] for d in args.dtype]:
        for block in (args.prefix_block, 0):
            weights, cache_dtype = precision(dtype)
            scfg = SamplerConfig(
                cfg, dtype=weights, cache_dtype=cache_dtype, prefix_block=block, prefix=args.prefix
            )
            times = time_decode_step(params, scfg, batch, args.step_lengths)
            rows.append(
                dict(dtype=dtype, batch=batch, block=block, ms={n: 1e3 * t for n, t in times.items()})
            )
            name = "prefix" if block else "whole"
            print(
                f"{dtype:>16} {batch:>5} {name:>10} "
                + " ".join(f"{1e3 * times[n]:>8.2f}" for n in args.step_lengths),
                flush=True,
            )
    return rows


def main(argv=None):
    args = parse_args(argv)
    if args.batches is None:
        args.batches = [] if args.table2 else [1, 8, 64, 256]
    import sys

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # torch_mmt beside this file
    import jax

    cfg = model_config(args.model)
    device = jax.devices()[0]
    bandwidth = read_bandwidth() if args.batches else None
    meta = dict(
        jax=jax.__version__,
        device=device.device_kind,
        platform=device.platform,
        cpus=os.cpu_count(),
        machine=cpu_model(),
        read_gb_per_s=bandwidth and bandwidth / 1e9,
        model=args.model,
        dtype=args.dtype,
        events=args.events,
        prefix_block=args.prefix_block,
    )
    print(
        f"MMT sampler speed: {args.model} model ({', '.join(args.dtype)}), {args.events} events, "
        f"jax {jax.__version__} on {device.platform} ({device.device_kind}, "
        f"{os.cpu_count()} CPUs, {cpu_model()}); every event forced to be a note"
    )
    if bandwidth:
        print(f"read bandwidth (jitted reductions over 512 MB): {bandwidth / 1e9:.1f} GB/s")
    base_events = args.events if args.baseline_events is None else args.baseline_events
    if not args.no_baseline and args.batches:
        print(
            f"baseline (no cache, full window each step): {base_events} events at batches "
            f"{args.baseline_batches or args.batches}"
        )
    result = dict(meta=meta)
    params = note_forced_params(cfg, args.seed) if args.batches else None
    if args.batches:
        print(HEADER)
        result["speed"] = run_speed(args, cfg, params, bandwidth)
    if args.torch and args.batches:
        result["torch"] = run_torch(args, cfg, params, result["speed"]["rows"])
    if args.step_lengths and args.batches:
        result["steps"] = run_steps(args, cfg, params)
    if args.table2:
        result["table2"] = run_table2(args, cfg)
    with open(args.json, "w") as f:
        json.dump(result, f, indent=2)
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()

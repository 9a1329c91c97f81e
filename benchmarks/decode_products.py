"""What the device's kernels reach on the products of one MMT decode step, against its read bandwidth.

    python benchmarks/decode_products.py                  # batch 1 and 8, 256 cache slots
    python benchmarks/decode_products.py --torch          # torch.nn.functional.linear on the CPU beside

A decode step of the paper model reads every weight once (24 products: per layer q/k/v
512x1536, the output 512x512, the feed-forward 512x2048 and 2048x512) and every filled cache
slot once (a score and a value product per layer). Each row here times just those products,
chained so that each waits for the one before (as in the model), with the sampler's dtypes:
inputs in the weights' (or cache's) dtype, float32 accumulation. GB/s is the bytes read over the
time; "of peak" divides it by the read bandwidth measured in the same run (jitted reductions over
512 MB, benchmarks/sample_speed.py). A row far below the peak is limited by the kernel, not the
memory: that is what separates the sampler from its ceiling (docs/benchmarks.md, issue 19).

Here each call widens bfloat16 inputs that XLA's CPU backend has no kernel for (a batch-1
product) every time; inside the sampler's loop XLA hoists the widening of the loop-invariant
weights out of the loop, so a batch-1 step with bfloat16 weights reads float32 weights.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

from mmt_jax.config import MMTConfig

PAPER = MMTConfig()
DEPTH, HEADS, HEAD_DIM = PAPER.depth, PAPER.heads, PAPER.head_dim
_FF = PAPER.dim * PAPER.ff_mult
# one layer's decode-step weight products, (inputs, outputs): q/k/v as one, out, feed-forward
LAYER = ((PAPER.dim, 3 * PAPER.inner_dim), (PAPER.inner_dim, PAPER.dim), (PAPER.dim, _FF), (_FF, PAPER.dim))


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batches", default="1,8", help="decoding batch sizes, comma-separated")
    p.add_argument("--slots", type=int, default=256, help="filled cache slots the attention reads")
    p.add_argument("--repeats", type=int, default=100, help="timed calls per row (best of 3 rounds)")
    p.add_argument("--torch", action="store_true", help="also time torch.nn.functional.linear")
    p.add_argument("--torch-threads", default="1,2", help="torch thread counts, comma-separated")
    p.add_argument("--json", default="/tmp/mmt_decode_products.json")
    return p.parse_args(argv)


def best_seconds(call, repeats):
    """Best mean seconds per call over 3 rounds of `repeats` calls (after one untimed call)."""
    call()
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(repeats):
            call()
        best = min(best, (time.perf_counter() - start) / repeats)
    return best


def weight_chain(batch, dtype, seed=0):
    """(call, bytes read): the step's 24 weight products in order."""
    import jax
    import jax.numpy as jnp
    import numpy as np

    rng = np.random.default_rng(seed)
    weights = [jnp.asarray(rng.standard_normal(shape, np.float32) * 0.02, dtype) for shape in LAYER * DEPTH]
    x = jnp.asarray(rng.standard_normal((batch, PAPER.dim), np.float32))

    @jax.jit
    def chain(x, weights):
        h = x
        for w in weights:
            h = jnp.dot(h[:, : w.shape[0]].astype(w.dtype), w, preferred_element_type=jnp.float32)
        return h

    return (lambda: chain(x, weights).block_until_ready()), sum(w.nbytes for w in weights)


def attention_chain(batch, dtype, slots, seed=0):
    """(call, bytes read): one query per row and head over `slots` cached keys and values, every
    layer, in the decode step's folded layout [batch x heads, slots, head_dim]."""
    import jax
    import jax.numpy as jnp
    import numpy as np

    rng = np.random.default_rng(seed)
    rows = batch * HEADS
    shape = (rows, slots, HEAD_DIM)
    keys = [jnp.asarray(rng.standard_normal(shape, np.float32), dtype) for _ in range(DEPTH)]
    values = [jnp.asarray(rng.standard_normal(shape, np.float32), dtype) for _ in range(DEPTH)]
    q = jnp.asarray(rng.standard_normal((rows, 1, HEAD_DIM), np.float32))

    @jax.jit
    def chain(q, keys, values):
        out = q
        for k, v in zip(keys, values):
            scores = jnp.einsum("nqd,nkd->nqk", out.astype(k.dtype), k, preferred_element_type=jnp.float32)
            probs = jax.nn.softmax(scores * HEAD_DIM**-0.5, axis=-1).astype(v.dtype)
            out = jnp.einsum("nqk,nkd->nqd", probs, v, preferred_element_type=jnp.float32)
        return out

    nbytes = sum(t.nbytes for t in keys + values)
    return (lambda: chain(q, keys, values).block_until_ready()), nbytes


def torch_chain(batch, dtype, threads, seed=0):
    """(call, bytes read): the 24 weight products as torch.nn.functional.linear."""
    import torch

    torch.set_num_threads(threads)
    gen = torch.Generator().manual_seed(seed)
    weights = [(torch.randn(n, k, generator=gen) * 0.02).to(getattr(torch, dtype)) for k, n in LAYER * DEPTH]
    x = torch.randn(batch, PAPER.dim, generator=gen)

    def call():
        with torch.inference_mode():
            h = x
            for w in weights:
                h = torch.nn.functional.linear(h[:, : w.shape[1]].to(w.dtype), w).float()
        return h

    return call, sum(w.numel() * w.element_size() for w in weights)


def main(argv=None):
    args = parse_args(argv)
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import jax
    from sample_speed import cpu_model, read_bandwidth

    batches = [int(b) for b in args.batches.split(",") if b.strip()]
    device = jax.devices()[0]
    peak = read_bandwidth()
    print(
        f"decode-step products of the paper model, jax {jax.__version__} on {device.platform} "
        f"({device.device_kind}, {os.cpu_count()} CPUs, {cpu_model()})"
    )
    print(f"read bandwidth (jitted reductions over 512 MB): {peak / 1e9:.1f} GB/s")
    print(f"{'products':>34} {'batch':>5} {'dtype':>9} {'MB read':>8} {'ms':>7} {'GB/s':>6} {'of peak':>7}")
    rows = []

    def report(what, batch, dtype, call, nbytes):
        seconds = best_seconds(call, args.repeats)
        row = dict(
            products=what,
            batch=batch,
            dtype=dtype,
            mb=nbytes / 1e6,
            ms=1e3 * seconds,
            gb_per_s=nbytes / seconds / 1e9,
            of_peak=nbytes / seconds / peak,
        )
        rows.append(row)
        print(
            f"{what:>34} {batch:>5} {dtype:>9} {row['mb']:>8.1f} {row['ms']:>7.3f} "
            f"{row['gb_per_s']:>6.1f} {100 * row['of_peak']:>6.0f}%",
            flush=True,
        )

    for batch in batches:
        for dtype in ("float32", "bfloat16"):
            report("24 weight products (XLA)", batch, dtype, *weight_chain(batch, dtype))
        for dtype in ("float32", "bfloat16"):
            report(
                f"attention, {args.slots} slots (XLA)",
                batch,
                dtype,
                *attention_chain(batch, dtype, args.slots),
            )
        if args.torch:
            for threads in (int(t) for t in args.torch_threads.split(",") if t.strip()):
                for dtype in ("float32", "bfloat16"):
                    call, nbytes = torch_chain(batch, dtype, threads)
                    report(f"24 weight products (torch, {threads} thr)", batch, dtype, call, nbytes)
    meta = dict(jax=jax.__version__, device=device.device_kind, cpus=os.cpu_count(), machine=cpu_model())
    with open(args.json, "w") as f:
        json.dump(dict(meta=meta, read_gb_per_s=peak / 1e9, slots=args.slots, rows=rows), f, indent=2)
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()

"""The GPU check of MMT speed: correctness first, then the sampler and train-step tables.

    python benchmarks/gpu_check.py               # on a GPU (benchmarks/gpu_check.sh installs first)
    python benchmarks/gpu_check.py --dry-run     # CPU, tiny model and sizes: checks the script

1. Correctness: the paper model's logits on the accelerator against the CPU's (same random
   weights and codes, float32 at highest matmul precision; max |diff| < 1e-3), and bfloat16
   decoding against float32 on the accelerator (max |diff| printed, < 0.25).
2. The sampler table (benchmarks/sample_speed.py): batch 1, 8, 64, 256; float32 and bfloat16;
   1,024 events; the PyTorch reference on the same card at batch 1 and 8 over 256 events.
3. The train-step table (benchmarks/train_step.py --model mmt): today's step, the fast one
   (dot_product attention, i.e. cuDNN, bfloat16, float32 masters), the PyTorch reference; tokens/s, MFU.

Each part runs with a time limit so the whole stays within about 10 minutes on an H100/H200;
JSON of every part lands in --out.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def check_logits(dry_run):
    import jax
    import jax.numpy as jnp
    import numpy as np
    from flax import linen as nn

    from mmt_jax.model import MMTConfig, MusicTransformer, init_cache
    from mmt_jax.sample import cast_params

    cfg = MMTConfig.tiny(dropout=0.0) if dry_run else MMTConfig(dropout=0.0)
    length = 32 if dry_run else 256
    accel, cpu = jax.devices()[0], jax.devices("cpu")[0]
    print(f"correctness: {accel.platform} ({accel.device_kind}) against cpu, {length} events")
    model = MusicTransformer(cfg)
    rng = np.random.default_rng(0)
    codes = np.stack([rng.integers(0, n, (2, length)) for n in cfg.vocab_sizes], -1).astype(np.int32)
    with jax.default_device(cpu):
        params = nn.meta.unbox(jax.jit(model.init)(jax.random.key(0), jnp.asarray(codes[:1, :8])))["params"]
    with jax.default_matmul_precision("highest"):
        outs = {}
        for dev in (cpu, accel):
            p, c = jax.device_put(params, dev), jax.device_put(codes, dev)
            outs[dev.platform] = [np.asarray(x) for x in jax.jit(model.apply)({"params": p}, c)]
    worst = max(float(np.abs(a - b).max()) for a, b in zip(outs["cpu"], outs[accel.platform]))
    print(f"  full pass, float32: max |logit difference| {accel.platform} vs cpu = {worst:.2e}")
    assert worst < 1e-3, "accelerator logits differ from the CPU's"

    half = dataclasses_replace(cfg, dtype="bfloat16", param_dtype="bfloat16")
    dmodel = MusicTransformer(half)
    p16 = cast_params(jax.device_put(params, accel), jnp.bfloat16)
    logits, _ = jax.jit(
        lambda p, c, cache: dmodel.apply({"params": p}, c, cache, 0, None, 128, method=dmodel.decode)
    )(p16, jax.device_put(codes, accel), init_cache(half, 2))
    worst16 = max(float(np.abs(np.asarray(a) - b).max()) for a, b in zip(logits, outs[accel.platform]))
    print(f"  cached prefill, bfloat16 vs float32 full pass: max |logit difference| = {worst16:.3f}")
    assert worst16 < 0.25, "bfloat16 decoding is far from float32"
    return {"float32_max_diff": worst, "bfloat16_max_diff": worst16}


def dataclasses_replace(cfg, **kw):
    import dataclasses

    return dataclasses.replace(cfg, **kw)


def run_part(name, argv, limit):
    print(f"\n== {name}: {' '.join(argv)}", flush=True)
    start = time.perf_counter()
    try:
        rc = subprocess.run([sys.executable, *argv], timeout=limit).returncode
    except subprocess.TimeoutExpired:
        print(f"== {name}: stopped after {limit} s (time limit)")
        return False
    print(f"== {name}: {'done' if rc == 0 else f'failed (exit {rc})'} in {time.perf_counter() - start:.0f} s")
    return rc == 0


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dry-run", action="store_true", help="CPU, tiny model and sizes")
    p.add_argument("--out", default="/tmp/mmt_gpu_check")
    p.add_argument("--skip-torch", action="store_true", help="no PyTorch rows")
    args = p.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    import jax

    backend = jax.default_backend()
    if backend == "cpu" and not args.dry_run:
        raise SystemExit("no accelerator found (jax.default_backend() is cpu); use --dry-run to test on CPU")
    start = time.perf_counter()
    check_logits(args.dry_run)
    torch_device = "cpu" if args.dry_run else "cuda"
    if args.dry_run:
        sampler = ["--model", "tiny", "--events", "32", "--batches", "1,2", "--torch-events", "16"]
        train = ["--mmt-size", "tiny", "--batch", "2", "--length", "32", "--steps", "2", "--warmup", "1"]
    else:
        sampler = ["--events", "1024", "--batches", "1,8,64,256", "--torch-events", "256"]
        train = ["--batch", "8", "--length", "1024", "--steps", "10", "--warmup", "2"]
    torch_args = [] if args.skip_torch else ["--torch", "--torch-device", torch_device]
    ok = run_part(
        "sampler",
        [os.path.join(HERE, "sample_speed.py"), *sampler, "--dtype", "float32,bfloat16", "--no-baseline"]
        + torch_args
        + ([] if args.skip_torch else ["--torch-batches", "1,8" if not args.dry_run else "1"])
        + ["--json", os.path.join(args.out, "sample_speed.json")],
        limit=360,
    )
    ok &= run_part(
        "train step",
        [os.path.join(HERE, "train_step.py"), "--model", "mmt", *train]
        + torch_args
        + ["--json", os.path.join(args.out, "train_step.json")],
        limit=200,
    )
    print(
        f"\nGPU check {'passed' if ok else 'incomplete'} in {time.perf_counter() - start:.0f} s; JSON in {args.out}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

"""CLIPSonic generation speed: seconds per generated 4-second clip against batch size, DDIM.

    python benchmarks/diffusion_speed.py                          # tiny config, batches 1,4,16 on CPU
    python benchmarks/diffusion_speed.py --config default --batches 1
    python benchmarks/diffusion_speed.py --config default --batches 1,8,32   # on a GPU

The sampler under test is clipsonic_jax.samplers.make_sampler: all steps in one jitted
`lax.scan`, classifier-free guidance inside the step. The baseline, measured in the same run, is
a plain Python loop calling one jitted DDIM step `--steps` times (same U-Net, weights, guidance,
x0 clamp as generate.py uses); both start from the same noise, and DDIM (eta 0) is deterministic,
so their outputs must agree (column "same"). Weights are random (speed only).

A 4-second clip is the reference's full mel (reference clipsonic.md §1.5), 256 frames = 4.096 s at 16 kHz. The tiny config's mel is
1.024 s (64 frames x 32 bands): its per-clip seconds are scaled by 4.096 / 1.024 to a 4-second
clip, which assumes cost proportional to frames (the printout says when it scales). Column
"GL s/clip": the Griffin-Lim vocoder (NumPy/librosa, CPU, batch-independent) for one clip, same
scaling; it is part of generating audio, but not of the diffusion time.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

CLIP_SECONDS = 4.096  # the reference default clip: 65,536 samples at 16 kHz -> 256 frames


def _ints(text):
    return [int(v) for v in str(text).split(",") if v.strip()]


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--config",
        choices=("tiny", "default"),
        default=None,
        help="model/mel size (default: tiny on CPU, default elsewhere)",
    )
    p.add_argument("--batches", type=_ints, default=None, help="default 1,4,16 on CPU, else 1,8,32")
    p.add_argument("--steps", type=int, default=50, help="DDIM steps")
    p.add_argument("--guidance", type=float, default=3.0)
    p.add_argument("--repeats", type=int, default=2, help="timed runs per batch (best)")
    p.add_argument("--no-baseline", action="store_true")
    p.add_argument("--no-vocoder", action="store_true", help="skip the Griffin-Lim column")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", default="/tmp/clipsonic_diffusion_speed.json")
    return p.parse_args(argv)


def load_config(name):
    from train_kit.config import load_config as load

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    return load(os.path.join(root, "configs", "clipsonic", f"{name}.py"))


def random_params(cfg, seed):
    import jax

    from clipsonic_jax.unet import UNet, init_params
    from train_kit.sharding import unbox

    shape = (cfg.mel.n_mels, cfg.mel.clip_frames)
    return unbox(jax.jit(lambda k: init_params(UNet(cfg.unet), k, shape))(jax.random.key(seed)))


def make_loop_sampler(apply_fn, dcfg, shape, steps, clip_x0=1.0):
    """Baseline: fn(params, cond, rng, guidance) running a jitted DDIM step in a Python loop.

    Written apart from samplers.py (one step = DDIM eq. 12 with eta 0), with the same noise
    draw, so the agreement check also cross-checks the scan sampler's arithmetic.
    """
    import jax
    import jax.numpy as jnp
    import numpy as np

    from clipsonic_jax.diffusion import alpha_bar, to_eps_x0
    from clipsonic_jax.samplers import timestep_pairs

    abar = np.concatenate([alpha_bar(dcfg), [1.0]])
    ts, prev = timestep_pairs(dcfg.timesteps, steps)

    @jax.jit
    def step(params, x, cond2, keep, t, a_t, a_s, guidance):  # t, a_t, a_s traced: one compile
        b = x.shape[0]
        out = apply_fn(params, jnp.concatenate([x, x]), jnp.full((2 * b,), t), cond2, keep)
        a, s = jnp.sqrt(a_t), jnp.sqrt(1 - a_t)
        eps2, _ = to_eps_x0(out.astype(jnp.float32), jnp.concatenate([x, x]), a, s, dcfg.prediction)
        eps = eps2[b:] + guidance * (eps2[:b] - eps2[b:])
        x0 = jnp.clip((x - s * eps) / a, -clip_x0, clip_x0)
        eps = (x - a * x0) / s
        return jnp.sqrt(a_s) * x0 + jnp.sqrt(1 - a_s) * eps

    def sample(params, cond, rng, guidance):
        b = cond.shape[0]
        x = jax.random.normal(jax.random.split(rng)[0], (b, *shape), jnp.float32)
        keep = jnp.concatenate([jnp.ones((b,), bool), jnp.zeros((b,), bool)])
        cond2 = jnp.concatenate([cond, cond])
        g = jnp.float32(guidance)
        for t, s in zip(ts, prev):
            x = step(params, x, cond2, keep, jnp.int32(t), jnp.float32(abar[t]), jnp.float32(abar[s]), g)
        return x

    return sample


def best_time(fn, repeats):
    """(best seconds, last output) over `repeats` runs after one compile/warm-up call."""
    import jax

    out = jax.block_until_ready(fn())
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        out = jax.block_until_ready(fn())
        best = min(best, time.perf_counter() - start)
    return best, out


def vocoder_seconds(cfg, repeats):
    import numpy as np

    from music_codecs.mel import mel_to_wave

    logmel = np.random.default_rng(0).normal(-4.0, 1.0, (cfg.mel.n_mels, cfg.mel.clip_frames))
    mel_to_wave(logmel, cfg.mel, n_iter=cfg.sample.griffin_lim_iters)  # warm the filterbank cache
    runs = []
    for _ in range(max(1, repeats)):
        start = time.perf_counter()
        mel_to_wave(logmel, cfg.mel, n_iter=cfg.sample.griffin_lim_iters)
        runs.append(time.perf_counter() - start)
    return min(runs)


HEADER = (
    f"{'batch':>5} {'scan s':>9} {'scan s/clip':>11} | {'loop s':>9} {'loop s/clip':>11} "
    f"{'speedup':>8} {'same':>5} {'max|diff|':>9} | {'GL s/clip':>9}"
)


def print_row(row, vocoder):
    base = "loop_seconds" in row
    print(
        f"{row['batch']:>5} {row['scan_seconds']:>9.3f} {row['scan_s_per_clip']:>11.4f} | "
        + (
            f"{row['loop_seconds']:>9.3f} {row['loop_s_per_clip']:>11.4f} {row['speedup']:>7.2f}x "
            f"{str(row['same']):>5} {row['max_abs_diff']:>9.2e}"
            if base
            else f"{'-':>9} {'-':>11} {'-':>8} {'-':>5} {'-':>9}"
        )
        + f" | {vocoder if vocoder is not None else '-':>9}",
        flush=True,
    )


def main(argv=None):
    args = parse_args(argv)
    import jax
    import jax.numpy as jnp
    import numpy as np

    from clipsonic_jax.samplers import make_sampler
    from clipsonic_jax.unet import UNet, make_apply

    device = jax.devices()[0]
    on_cpu = device.platform == "cpu"
    args.config = args.config or ("tiny" if on_cpu else "default")
    args.batches = args.batches or ([1, 4, 16] if on_cpu else [1, 8, 32])
    cfg = load_config(args.config)
    shape = (cfg.mel.n_mels, cfg.mel.clip_frames)
    clip_s = cfg.mel.clip_samples / cfg.mel.sample_rate
    scale = CLIP_SECONDS / clip_s  # clips of this config per 4-second clip
    params = random_params(cfg, args.seed)
    n_params = sum(x.size for x in jax.tree.leaves(params))
    apply_fn = make_apply(UNet(cfg.unet))
    scan = make_sampler(apply_fn, cfg.diffusion, shape, args.steps, "ddim", clip_x0=1.0)
    loop = make_loop_sampler(apply_fn, cfg.diffusion, shape, args.steps, clip_x0=1.0)

    meta = dict(
        jax=jax.__version__,
        device=device.device_kind,
        platform=device.platform,
        cpus=os.cpu_count(),
        machine=platform.processor() or platform.machine(),
        config=args.config,
        mel=list(shape),
        clip_seconds=clip_s,
        scaled_to=CLIP_SECONDS,
        scale=scale,
        params=int(n_params),
        steps=args.steps,
        guidance=args.guidance,
        repeats=args.repeats,
        weights="random",
    )
    print(
        f"CLIPSonic DDIM speed: {args.config} config (U-Net {n_params / 1e6:.2f} M params, mel "
        f"{shape[0]}x{shape[1]} = {clip_s:.3f} s), {args.steps} steps, guidance {args.guidance}, "
        f"jax {jax.__version__} on {device.platform} ({device.device_kind}, {os.cpu_count()} CPUs)"
    )
    if scale != 1.0:
        print(
            f"per-clip columns are scaled by {scale:g} to a {CLIP_SECONDS} s clip "
            f"(assumes cost proportional to frames; this config's mel is {clip_s:.3f} s)"
        )
    print(
        "scan = one jitted lax.scan sampler; loop = Python loop over one jitted step (baseline); "
        "same = outputs allclose (atol 1e-4); best of",
        args.repeats,
    )

    vocoder = None if args.no_vocoder else vocoder_seconds(cfg, args.repeats) * scale
    meta["vocoder_s_per_clip"] = vocoder
    print(HEADER)
    rows = []
    for batch in args.batches:
        cond = jax.random.normal(jax.random.key(args.seed + 1), (batch, cfg.unet.cond_dim))
        cond = cond / jnp.linalg.norm(cond, axis=-1, keepdims=True)
        rng = jax.random.key(args.seed)
        sec, x_scan = best_time(lambda: scan(params, cond, rng, args.guidance), args.repeats)
        row = dict(batch=batch, scan_seconds=sec, scan_s_per_clip=sec / batch * scale)
        if not args.no_baseline:
            b_sec, x_loop = best_time(lambda: loop(params, cond, rng, args.guidance), args.repeats)
            diff = float(np.max(np.abs(np.asarray(x_scan) - np.asarray(x_loop))))
            row.update(
                loop_seconds=b_sec,
                loop_s_per_clip=b_sec / batch * scale,
                speedup=b_sec / sec,
                max_abs_diff=diff,
                same=bool(np.allclose(x_scan, x_loop, atol=1e-4, rtol=1e-4)),
            )
        rows.append(row)
        print_row(row, None if vocoder is None else f"{vocoder:.4f}")
    with open(args.json, "w") as f:
        json.dump(dict(meta=meta, rows=rows), f, indent=2)
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()

"""Does bfloat16 decoding keep sample quality? Table 3 metrics of float32 and bfloat16 samples.

    python benchmarks/dtype_quality.py --checkpoint runs/mmt/tiny --data data/mmt/music21

The same checkpoint, prompts and keys sampled three times: float32; bfloat16 weights and cache;
bfloat16 weights with a float32 cache (`SamplerConfig(dtype=..., cache_dtype=...)`), by
mmt_jax.evaluate's Table 3 protocol (unconditional samples, 64-beat trim, pitch class entropy,
scale consistency, groove consistency; mean ± 95 % CI). Prints the rows beside the test pieces'
and whether each bfloat16 mean lies inside the float32 interval; writes JSON.
"""

from __future__ import annotations

import argparse
import json
import time

MODES = {  # row name: (dtype, cache_dtype)
    "float32": ("float32", "float32"),
    "bfloat16": ("bfloat16", "bfloat16"),
    "bf16 w, f32 cache": ("bfloat16", "float32"),
}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--checkpoint", required=True, help="run folder (mmt-jax train / convert-reference)")
    p.add_argument("--data", required=True, help="prepared data folder (its test split is scored too)")
    p.add_argument("--num-samples", type=int, default=100)
    p.add_argument("--batch-size", type=int, default=25)
    p.add_argument("--max-events", type=int, default=1024)
    p.add_argument("--sampling", default="reference", choices=("default", "reference"))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", default="/tmp/mmt_dtype_quality.json")
    args = p.parse_args(argv)

    from mmt_jax import evaluate as ev
    from mmt_jax.load import load
    from mmt_jax.sample import SamplerConfig

    params, run_cfg = load(args.checkpoint)
    names, pieces, _ = ev.load_test_pieces(args.data, args.num_samples)
    rows = {"test pieces": ev.aggregate([ev.score(c) for c in ev.ground_truth_codes(pieces)])}
    seconds = {}
    for name, (dtype, cache_dtype) in MODES.items():
        scfg = SamplerConfig.preset(
            args.sampling, run_cfg.model, max_events=args.max_events, dtype=dtype, cache_dtype=cache_dtype
        )
        start = time.perf_counter()
        codes = ev.generate_codes(params, scfg, args.num_samples, args.batch_size, args.seed)
        seconds[name] = time.perf_counter() - start
        rows[name] = ev.aggregate([ev.score(c) for c in codes])
    print(f"{args.num_samples} samples per dtype, {len(names)} test pieces; mean ± 95 % CI")
    print(f"{'':<18}" + "".join(f"{label:>28}" for _, scale, label in ev.METRICS.values()))
    for name, agg in rows.items():
        cells = [
            f"{agg[m]['mean'] * s:.3f} ± {agg[m]['ci95'] * s:.3f}" for m, (_, s, _) in ev.METRICS.items()
        ]
        print(f"{name:<18}" + "".join(f"{c:>28}" for c in cells))
    inside = {
        name: {
            m: abs(rows[name][m]["mean"] - rows["float32"][m]["mean"]) <= rows["float32"][m]["ci95"]
            for m in ev.METRICS
        }
        for name in list(MODES)[1:]
    }
    for name, ok in inside.items():
        print(f"{name} mean inside the float32 95 % CI: " + ", ".join(f"{m} {v}" for m, v in ok.items()))
    print("sampling seconds: " + ", ".join(f"{d} {s:.1f}" for d, s in seconds.items()))
    with open(args.json, "w") as f:
        json.dump(
            {"rows": rows, "inside_ci": inside, "seconds": seconds, "settings": vars(args)}, f, indent=2
        )
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()

"""Generation speed and sample length, the paper's Table 2 protocol (reference §5.2).

Unconditional samples at batch 1 that stop at end-of-song; only the sampling call is timed.
Speed = all decoded notes / all generation time; sample length = the mean end time of the
decoded (untrimmed) samples at 100 qpm. benchmarks/sample_speed.py --table2 measures the same
and could call `table2` instead of its own loop.
"""

from __future__ import annotations

import time

import numpy as np

from mmt_jax import codec

PAPER = {"notes_per_s": 11.79, "mean_length_s": 100.42}  # MMT on SOD, paper Table 2


def table2(params, model_cfg, *, num_samples=100, max_events=1024, seed=0, temperature=1.0, progress=True):
    """{samples, notes, seconds, notes_per_s, mean_length_s, lengths_s} (sample i uses keys
    made from (seed, i))."""
    from tqdm.auto import tqdm

    from mmt_jax import prompts
    from mmt_jax.sample import SamplerConfig, row_keys_for, sample

    scfg = SamplerConfig(model_cfg, max_events=max_events)
    prompt = [prompts.unconditional()]
    # compile outside the timing (the event count is traced); the cache is handed from call to
    # call, as a generation job would, so no call pays for allocating and zeroing it
    cache = sample(params, scfg, prompt, 2, return_cache=True).cache
    seconds, notes, lengths = 0.0, 0, []
    for i in tqdm(range(num_samples), desc="speed-test", unit="sample", disable=not progress):
        start = time.perf_counter()
        out = sample(
            params,
            scfg,
            prompt,
            max_events,
            temperature,
            row_keys=row_keys_for(seed, [i]),
            cache=cache,
            return_cache=True,
        )  # returns NumPy: synchronised
        cache = out.cache
        seconds += time.perf_counter() - start
        table = codec.decode(out.sequences()[0])
        notes += len(table)
        lengths.append(table.end / codec.RESOLUTION * 60.0 / codec.DECODE_QPM)
    return {
        "samples": num_samples,
        "notes": notes,
        "seconds": seconds,
        "notes_per_s": notes / seconds if seconds else 0.0,
        "mean_length_s": float(np.mean(lengths)),
        "lengths_s": [round(x, 3) for x in lengths],
    }

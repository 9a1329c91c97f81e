"""Objective evaluation, the paper's Table 3 protocol (reference §5.1).

N unconditional samples and the first test pieces are decoded (100 qpm, resolution 12),
trimmed to 64 beats, and scored with pitch-class entropy, scale consistency and groove
consistency (measures of 4 beats = 48 ticks). Each metric is reported as mean ± the half-width
of a 95 % Student-t confidence interval, NaNs (pieces without notes, or shorter than two
measures) left out and counted.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from mmt_jax import codec
from music_codecs import metrics
from music_codecs.quantize import trim

TRIM_BEATS = 64
MEASURE_TICKS = 4 * codec.RESOLUTION
METRICS = {  # name -> (function of a NoteTable, scale shown in the table, label)
    "pitch_class_entropy": (metrics.pitch_class_entropy, 1.0, "pitch class entropy"),
    "scale_consistency": (metrics.scale_consistency, 100.0, "scale consistency (%)"),
    "groove_consistency": (
        lambda t: metrics.groove_consistency(t, MEASURE_TICKS),
        100.0,
        "groove consistency (%)",
    ),
}
PAPER_GROUND_TRUTH = {
    "pitch_class_entropy": 2.974,
    "scale_consistency": 0.9226,
    "groove_consistency": 0.9305,
}  # SOD, paper Table 3
PAPER_MMT = {"pitch_class_entropy": 2.802, "scale_consistency": 0.9474, "groove_consistency": 0.9209}


def score(codes):
    """{metric: value} of one code sequence, decoded and trimmed to 64 beats."""
    table = trim(codec.decode(codes), TRIM_BEATS * codec.RESOLUTION)
    return {name: fn(table) for name, (fn, _, _) in METRICS.items()}


def aggregate(scores):
    """[{metric: value}] -> {metric: {mean, ci95, n, nan}} (NaN-ignoring mean ± 95 % CI)."""
    out = {}
    for name in METRICS:
        values = np.array([s[name] for s in scores], np.float64)
        mean, half = metrics.mean_ci95(values)
        out[name] = {
            "mean": mean,
            "ci95": half,
            "n": int(np.isfinite(values).sum()),
            "nan": int((~np.isfinite(values)).sum()),
        }
    return out


def longest_silence(codes):
    """The longest stretch in beats where no note sounds, between the first onset and the last
    note's end (0 for fewer than two notes): what a runaway beat jump leaves."""
    table = codec.decode(codes)
    if len(table) < 2:
        return 0.0
    order = np.argsort(table.onset, kind="stable")
    onset, end = table.onset[order], (table.onset + table.duration)[order]
    sounding = np.maximum.accumulate(end)[:-1]
    return float(max((onset[1:] - sounding).max(), 0)) / codec.RESOLUTION


def largest_advance(codes):
    """The largest jump in beats between consecutive note onsets."""
    beats = np.unique(codec.decode_notes(codes)[:, 0])
    return int(np.diff(beats).max()) if len(beats) > 1 else 0


def gap_summary(values):
    """Median, 90th percentile and maximum of per-piece values."""
    values = np.asarray(values, np.float64)
    if not len(values):
        return {"median": None, "p90": None, "max": None}
    return {
        "median": float(np.median(values)),
        "p90": float(np.percentile(values, 90)),
        "max": float(values.max()),
    }


def declared_share(sequences, instruments):
    """Share of generated notes whose instrument is one of `instruments` (codes)."""
    notes = np.concatenate([s[s[:, 0] == codec.NOTE][:, 5] for s in sequences] + [np.zeros(0, np.int64)])
    return float(np.isin(notes, list(instruments)).mean()) if len(notes) else float("nan"), int(len(notes))


def instrument_request(params, sampler_cfg, instruments, num_samples, batch_size, seed=0, progress=True):
    """Instrument-informed samples for `instruments` (names): share of notes on them, with the
    given settings and with strict ones."""
    import dataclasses

    from mmt_jax import prompts

    prompt = prompts.instrument_informed(instruments)
    asked = set(prompt[prompt[:, 0] == codec.INSTRUMENT][:, 5].tolist())
    out = {}
    for label, strict in (("default", False), ("strict", True)):
        cfg = dataclasses.replace(sampler_cfg, strict=strict or sampler_cfg.strict)
        seqs = generate_codes(params, cfg, num_samples, batch_size, seed, 1.0, progress, prompt=prompt)
        share, n = declared_share([s[len(prompt) :] for s in seqs], asked)
        out[label] = {"share_on_declared": share, "notes": n}
    return out


def data_beat_advance(data_dir):
    """The largest beat advance of a prepared folder (its prepare-report.json), else 0."""
    report = Path(data_dir) / "prepare-report.json"
    return int(json.loads(report.read_text()).get("largest_beat_advance", 0)) if report.is_file() else 0


def load_test_pieces(data_dir, limit):
    """The first `limit` test pieces of a prepared folder: (names, note arrays, skipped), where
    skipped lists (name, reason) for files that cannot be read or encoded."""
    from mmt_jax.data import load_notes, read_names
    from music_codecs.errors import UserError

    names = read_names(Path(data_dir) / "test-names.txt")[:limit]
    if not names:
        raise UserError(f"{data_dir}: test-names.txt lists no pieces")
    kept, pieces, skipped = [], [], []
    for name in names:
        try:
            notes = load_notes(Path(data_dir) / "notes", name)
            codec.encode_notes(notes)  # out-of-range values raise here, not mid-run
        except (UserError, ValueError) as err:
            skipped.append((name, str(err)))
            continue
        kept.append(name)
        pieces.append(notes)
    if not pieces:
        raise UserError(
            f"{data_dir}: none of the {len(names)} test pieces could be read (first: {skipped[0][1]})"
        )
    return kept, pieces, skipped


def ground_truth_codes(pieces, max_seq_len=1024):
    """Test pieces as the reference scores them: encoded, capped to max_seq_len rows, not
    beat-trimmed (the 64-beat trim comes after decoding)."""
    from mmt_jax.data import cap_length

    return [cap_length(codec.encode_notes(notes), max_seq_len) for notes in pieces]


def generate_codes(
    params, sampler_cfg, num_samples, batch_size, seed=0, temperature=1.0, progress=True, prompt=None
):
    """`num_samples` unconditional samples (start-of-song prompt unless `prompt` is given, stop
    at end-of-song); sample i draws from keys of (seed, i), so results do not depend on the
    batch size."""
    from tqdm.auto import tqdm

    from mmt_jax import prompts
    from mmt_jax.sample import row_keys_for, sample

    batch_size = max(1, min(batch_size, num_samples))
    prompt = prompts.unconditional() if prompt is None else prompt
    out = []
    with tqdm(total=num_samples, desc="generate", unit="sample", disable=not progress) as bar:
        for start in range(0, num_samples, batch_size):
            # keep one compiled shape: the last batch is topped up with rows thrown away
            indices = np.arange(start, start + batch_size)
            samples = sample(
                params,
                sampler_cfg,
                [prompt] * batch_size,
                temperature=temperature,
                row_keys=row_keys_for(seed, indices),
            )
            kept = samples.sequences()[: num_samples - start]
            out.extend(kept)
            bar.update(len(kept))
    return out


def evaluate(
    params,
    model_cfg,
    data_dir,
    *,
    num_samples=100,
    batch_size=8,
    seed=0,
    temperature=1.0,
    max_events=1024,
    truth_rows=1024,
    progress=True,
    sampling="default",
    strict=False,
    max_beat_advance=None,
    instruments=None,
):
    """Table 3 for one checkpoint: {"generated": ..., "ground_truth": ..., "settings": ...}.

    Also: the length of the samples, the longest silence and the largest beat jump per piece
    (samples against the test pieces, whole and untrimmed), and with `instruments` the share of
    notes an instrument-informed prompt for them puts on them (with these settings and strict).
    sampling: a SamplerConfig preset ("default" or "reference")."""
    from mmt_jax.sample import SamplerConfig
    from music_codecs.errors import UserError

    if num_samples < 1 or batch_size < 1:
        raise UserError("--num-samples and --batch-size must be positive")
    names, pieces, skipped = load_test_pieces(data_dir, num_samples)
    truth = [score(c) for c in ground_truth_codes(pieces, truth_rows)]
    if max_beat_advance is None:  # the default preset bounds jumps by the data's largest
        max_beat_advance = data_beat_advance(data_dir) if (sampling == "default" or strict) else 0
    scfg = SamplerConfig.preset(
        sampling, model_cfg, max_events=max_events, strict=strict, max_beat_advance=max_beat_advance
    )
    samples = generate_codes(params, scfg, num_samples, batch_size, seed, temperature, progress)
    generated = [score(c) for c in samples]
    beats = [codec.decode(c).end / codec.RESOLUTION for c in samples]  # before the trim
    truth_full = [codec.encode_notes(notes) for notes in pieces]
    result = {
        "generated": aggregate(generated),
        "ground_truth": aggregate(truth),
        "generated_length": {
            "events_mean": float(np.mean([len(c) for c in samples])),
            "events_median": float(np.median([len(c) for c in samples])),
            "beats_mean": float(np.mean(beats)),
            "ended": int(sum(int((c[:, 0] == codec.EOS).any()) for c in samples)),
        },
        "longest_silence_beats": {
            "generated": gap_summary([longest_silence(c) for c in samples]),
            "ground_truth": gap_summary([longest_silence(c) for c in truth_full]),
        },
        "largest_beat_advance": {
            "generated": gap_summary([largest_advance(c) for c in samples]),
            "ground_truth": gap_summary([largest_advance(c) for c in truth_full]),
        },
        "settings": {
            "num_samples": num_samples,
            "test_pieces": len(names),
            "skipped_test_pieces": [f"{n}: {r}" for n, r in skipped],
            "seed": seed,
            "sampling": sampling,
            "strict": strict,
            "max_beat_advance": max_beat_advance,
            "temperature": temperature,
            "max_events": max_events,
            "truth_rows": truth_rows,
            "trim_beats": TRIM_BEATS,
            "measure_ticks": MEASURE_TICKS,
        },
        "per_sample": {"generated": generated, "ground_truth": truth, "test_names": names},
    }
    if instruments:
        result["instrument_request"] = {
            "instruments": instruments,
            **instrument_request(params, scfg, instruments, num_samples, batch_size, seed, progress),
        }
    return result


def _fmt(value, scale):
    return f"{value * scale:.{3 if scale == 1 else 2}f}"  # entropy in bits, the rest in %


def _cell(entry, scale):
    if not math.isfinite(entry["mean"]):
        return "n/a"
    half = f" ± {_fmt(entry['ci95'], scale)}" if math.isfinite(entry["ci95"]) else ""
    return _fmt(entry["mean"], scale) + half


def markdown(result):
    """A Markdown table: ground truth, generated and the paper's SOD numbers, mean ± 95 % CI."""
    header = "| | n | " + " | ".join(label for _, _, label in METRICS.values()) + " |"
    lines = [header, "|---" * (len(METRICS) + 2) + "|"]
    for key, label in (("ground_truth", "ground truth (test)"), ("generated", "generated")):
        n = max(e["n"] for e in result[key].values())
        cells = [_cell(result[key][m], scale) for m, (_, scale, _) in METRICS.items()]
        lines.append(f"| {label} | {n} | " + " | ".join(cells) + " |")
    for label, ref in (("paper: ground truth (SOD)", PAPER_GROUND_TRUTH), ("paper: MMT (SOD)", PAPER_MMT)):
        cells = [_fmt(ref[m], scale) for m, (_, scale, _) in METRICS.items()]
        lines.append(f"| {label} | | " + " | ".join(cells) + " |")
    lengths = result.get("generated_length", {})
    if lengths:
        lines.append(
            f"\nsamples: {lengths['events_mean']:.0f} events, {lengths['beats_mean']:.1f} beats on "
            f"average (median {lengths.get('events_median', float('nan')):.0f} events); "
            f"{lengths.get('ended', '?')} ended with end-of-song"
        )
    for key, label in (
        ("longest_silence_beats", "longest silence"),
        ("largest_beat_advance", "largest beat jump"),
    ):
        if key in result:
            g, t = result[key]["generated"], result[key]["ground_truth"]
            lines.append(
                f"{label} (beats, median / 90th pct / max): samples {g['median']:.1f} / {g['p90']:.1f} / "
                f"{g['max']:.1f}; test pieces {t['median']:.1f} / {t['p90']:.1f} / {t['max']:.1f}"
            )
    if "instrument_request" in result:
        r = result["instrument_request"]
        lines.append(
            f"notes on the requested instruments ({r['instruments']}): "
            f"{100 * r['default']['share_on_declared']:.1f}% ({r['default']['notes']} notes), "
            f"with strict {100 * r['strict']['share_on_declared']:.1f}% ({r['strict']['notes']} notes)"
        )
    return "\n".join(lines) + "\n"


def write(result, out_dir):
    """evaluate.json (everything, NaN as null) and evaluate.md; returns their paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path, md_path = out_dir / "evaluate.json", out_dir / "evaluate.md"
    from music_codecs.atomic import write_text_atomic

    write_text_atomic(json_path, json.dumps(_nan_to_none(result), indent=1) + "\n")
    write_text_atomic(md_path, markdown(result))
    return json_path, md_path


def _nan_to_none(x):
    if isinstance(x, dict):
        return {k: _nan_to_none(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_nan_to_none(v) for v in x]
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x

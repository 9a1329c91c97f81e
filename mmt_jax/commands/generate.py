"""`mmt-jax generate`: sample music from a checkpoint in one of the three modes of the paper."""

import math
import os

HELP = "generate music from a checkpoint: unconditional, instrument-informed or continuation"


def add_arguments(parser):
    parser.add_argument(
        "--checkpoint",
        required=True,
        help="run folder from `mmt-jax train` (its --out) or `convert-reference`, or the name of a "
        "shipped model (music21)",
    )
    parser.add_argument(
        "--mode", default="unconditional", choices=("unconditional", "instrument", "continuation")
    )
    parser.add_argument("--instruments", help="instrument mode: names, e.g. piano,violin,cello")
    parser.add_argument("--prompt", help="continuation mode: a MIDI or MusicXML file")
    parser.add_argument("--beats", type=int, default=4, help="continuation mode: prompt beats")
    parser.add_argument("--num-samples", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--temperature",
        default="1.0",
        help="one value, or six comma-separated (type,beat,position,pitch,duration,instrument)",
    )
    parser.add_argument(
        "--top-k-threshold",
        default=None,
        help="filter threshold (k = ceil((1 - t) * vocab)); one or six values",
    )
    parser.add_argument("--filter", default=None, choices=("top_k", "top_p"))
    parser.add_argument(
        "--max-events",
        type=int,
        default=1024,
        help="events generated after the prompt at most (may exceed the window)",
    )
    parser.add_argument(
        "--sampling",
        default="default",
        choices=("default", "reference"),
        help="named settings: 'default' (chosen by the measurements in docs/results.md: notes only "
        "on declared instruments, beat from its 3 likeliest codes and never further ahead than "
        "the training data went, refills re-based) or 'reference' (the paper's: top-k 0.9 on "
        "every field, instruments free); --top-k-threshold and --filter override either",
    )
    parser.add_argument(
        "--strict",
        action="store_true",
        help="also: ordered positions, no repeated instrument rows, and no beat jump larger than "
        "the largest in the training data (from its prepare-report.json; see --max-beat-advance)",
    )
    parser.add_argument(
        "--max-beat-advance",
        type=int,
        help="a note's beat at most this many beats after the last one's (0: unbounded; "
        "default with --sampling default or --strict: the largest advance in the run's training "
        "data, from its prepare-report.json)",
    )
    parser.add_argument(
        "--tempo",
        type=float,
        help="tempo (quarter notes per minute) of the written files; default: a continuation's "
        "prompt's own tempo (and time signature), else 100 as in the paper",
    )
    parser.add_argument("--renderer", default="auto", choices=("auto", "fluidsynth", "sine"))
    parser.add_argument(
        "--dtype",
        default="auto",
        choices=("auto", "float32", "bfloat16"),
        help="decoding precision of the weights (softmax, sums and the residual stream stay "
        "float32); auto: bfloat16 (faster than float32 at batch 8 on CPU, as fast at batch 1, "
        "the same sample quality; docs/benchmarks.md)",
    )
    parser.add_argument(
        "--cache-dtype",
        default="auto",
        choices=("auto", "float32", "bfloat16"),
        help="dtype of the key/value cache; auto: float32 on CPU (XLA's bfloat16 cache is slow "
        "there), else bfloat16",
    )


def _floats(text, name):
    from music_codecs.errors import UserError

    try:
        values = [float(v) for v in str(text).split(",") if v.strip()]
    except ValueError:
        raise UserError(f"--{name} must be numbers, got {text!r}") from None
    if not all(math.isfinite(v) for v in values):
        raise UserError(f"--{name} must be finite numbers, got {text!r}")
    if len(values) not in (1, 6):
        raise UserError(f"--{name} takes one value or six, got {len(values)}")
    return tuple(values) if len(values) == 6 else values[0]


def training_beat_advance(run_cfg, run_dir=None):
    """The largest beat advance in the run's training data (its prepare-report.json, kept in
    the run folder for shipped models, else in the data folder), or None."""
    import json
    from pathlib import Path

    reports = [
        Path(run_dir or "-") / "prepare-report.json",
        Path(run_cfg.data.path or "-") / "prepare-report.json",
    ]
    report = next((r for r in reports if r.is_file()), None)
    if report is None:
        return None
    return json.loads(report.read_text()).get("largest_beat_advance") or None


def run(args):
    from train_kit import paths

    args.checkpoint = str(paths.run_dir(args.checkpoint, package="mmt_jax"))
    if args.prompt:
        paths.input_file(args.prompt, "--prompt")
    paths.output_dir(args.out, "--out", inputs=[args.checkpoint, args.prompt])
    for flag in ("num_samples", "batch_size", "max_events", "tempo"):
        paths.positive(getattr(args, flag), "--" + flag.replace("_", "-"))
    paths.at_least(args.beats, 0, "--beats")
    paths.at_least(args.max_beat_advance, 0, "--max-beat-advance")
    if args.prompt:  # e.g. --mode continuation --prompt OUT/continuation-000.mid would be replaced
        paths.distinct_outputs(
            [
                (os.path.join(args.out, f"{args.mode}-{i:03d}{suffix}"), f"sample {i}")
                for i in range(args.num_samples)
                for suffix in (".npy", ".mid", ".wav", ".png")
            ],
            inputs=[args.prompt],
        )

    from mmt_jax import prompts
    from mmt_jax.generate import generate
    from mmt_jax.load import load
    from mmt_jax.sample import SamplerConfig
    from music_codecs.errors import UserError

    temperature = _floats(args.temperature, "temperature")
    if not all(
        t > 0 and math.isfinite(t)
        for t in (temperature if isinstance(temperature, tuple) else (temperature,))
    ):
        raise UserError("--temperature must be positive and finite")
    if args.tempo is not None and not args.tempo > 0:
        raise UserError("--tempo must be positive")
    timing = {}
    prompt = prompts.build(
        args.mode, instruments=args.instruments, prompt=args.prompt, beats=args.beats, timing=timing
    )
    if args.max_events < 1:
        raise UserError("--max-events must be positive")
    params, run_cfg = load(args.checkpoint)
    model_cfg = run_cfg.model
    from mmt_jax.sample import default_cache_dtype, default_dtype

    dtype = default_dtype() if args.dtype == "auto" else args.dtype
    cache_dtype = default_cache_dtype() if args.cache_dtype == "auto" else args.cache_dtype
    overrides = {
        "max_events": args.max_events,
        "strict": args.strict,
        "dtype": dtype,
        "cache_dtype": cache_dtype,
    }
    if args.top_k_threshold is not None:
        overrides["thresholds"] = _floats(args.top_k_threshold, "top-k-threshold")
    if args.filter is not None:
        overrides["filter"] = args.filter
    advance = args.max_beat_advance
    if advance is None and (args.strict or args.sampling == "default"):
        advance = training_beat_advance(run_cfg, args.checkpoint)
        if advance is None:
            print("note: no prepare-report.json for the run's data; beat advance left unbounded")
    if advance is not None:
        overrides["max_beat_advance"] = advance
    try:
        cfg = SamplerConfig.preset(args.sampling, model_cfg, **overrides)
    except ValueError as err:
        raise UserError(str(err)) from None
    qpm = args.tempo if args.tempo is not None else timing.get("qpm")
    settings = {k: v for k, v in vars(args).items() if not k.startswith("_")}
    settings.update(
        max_beat_advance=cfg.max_beat_advance,
        declared_only=cfg.declared_only,
        qpm=qpm,
        dtype=cfg.dtype,
        cache_dtype=cfg.cache_dtype,
    )
    records = generate(
        params,
        cfg,
        prompt,
        args.out,
        num_samples=args.num_samples,
        batch_size=args.batch_size,
        seed=args.seed,
        temperature=temperature,
        stem=args.mode,
        renderer=args.renderer,
        settings=settings,
        qpm=qpm,
        time_signature=timing.get("time_signature"),
        mark_beat=args.beats if args.mode == "continuation" else None,
    )
    notes = sum(r["notes"] for r in records)
    tempo = f"{records[0]['qpm']:g} qpm" if records else ""
    print(f"wrote {len(records)} samples ({notes} notes, {tempo}) to {args.out}")
    if records:
        from mmt_jax.generate import write_index
        from music_codecs.render import describe_renderer

        print(f"audio: {describe_renderer(records[0]['renderer'])}")
        print(f"page: {write_index(args.out)}")

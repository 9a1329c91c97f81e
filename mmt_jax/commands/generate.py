"""`mmt-jax generate`: sample music from a checkpoint in one of the three modes of the paper."""

HELP = "generate music from a checkpoint: unconditional, instrument-informed or continuation"


def add_arguments(parser):
    parser.add_argument(
        "--checkpoint",
        required=True,
        help="run folder from `mmt-jax train` (its --out) or `convert-reference`",
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
        default="0.9",
        help="filter threshold (k = ceil((1 - t) * vocab)); one or six values",
    )
    parser.add_argument("--filter", default="top_k", choices=("top_k", "top_p"))
    parser.add_argument(
        "--max-events",
        type=int,
        default=1024,
        help="events generated after the prompt at most (may exceed the window)",
    )
    parser.add_argument(
        "--strict",
        action="store_true",
        help="declared instruments only, ordered positions, no repeated instrument rows",
    )
    parser.add_argument("--renderer", default="auto", choices=("auto", "fluidsynth", "sine"))


def _floats(text, name):
    from music_codecs.errors import UserError

    try:
        values = [float(v) for v in str(text).split(",") if v.strip()]
    except ValueError:
        raise UserError(f"--{name} must be numbers, got {text!r}") from None
    if len(values) not in (1, 6):
        raise UserError(f"--{name} takes one value or six, got {len(values)}")
    return tuple(values) if len(values) == 6 else values[0]


def run(args):
    from mmt_jax import prompts
    from mmt_jax.generate import generate
    from mmt_jax.load import load
    from mmt_jax.sample import SamplerConfig
    from music_codecs.errors import UserError

    temperature = _floats(args.temperature, "temperature")
    if min(temperature if isinstance(temperature, tuple) else (temperature,)) <= 0:
        raise UserError("--temperature must be positive")
    thresholds = _floats(args.top_k_threshold, "top-k-threshold")
    prompt = prompts.build(args.mode, instruments=args.instruments, prompt=args.prompt, beats=args.beats)
    if args.max_events < 1:
        raise UserError("--max-events must be positive")
    params, run_cfg = load(args.checkpoint)
    model_cfg = run_cfg.model
    try:
        cfg = SamplerConfig(
            model_cfg,
            max_events=args.max_events,
            filter=args.filter,
            thresholds=thresholds,
            strict=args.strict,
        )
    except ValueError as err:
        raise UserError(str(err)) from None
    settings = {k: v for k, v in vars(args).items() if not k.startswith("_")}
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
    )
    notes = sum(r["notes"] for r in records)
    print(f"wrote {len(records)} samples ({notes} notes) to {args.out}")

"""`mmt-jax speed-test`: the paper's Table 2 protocol (notes/s and mean sample length)."""

HELP = "time unconditional generation (Table 2): notes per second and mean sample length"


def add_arguments(parser):
    parser.add_argument(
        "--checkpoint",
        required=True,
        help="run folder from `mmt-jax train` (its --out) or `convert-reference`",
    )
    parser.add_argument("--num-samples", type=int, default=100)
    parser.add_argument("--max-events", type=int, default=1024)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--temperature", type=float, default=1.0)
    parser.add_argument("--json", help="also write the result here")


def run(args):
    from train_kit import paths

    args.checkpoint = str(paths.run_dir(args.checkpoint, package="mmt_jax"))
    if args.json:
        paths.output_file(args.json, "--json", inputs=[args.checkpoint])
    for flag in ("num_samples", "max_events", "temperature"):
        paths.positive(getattr(args, flag), "--" + flag.replace("_", "-"))

    import json
    import os
    import platform

    import jax

    from mmt_jax.load import load
    from mmt_jax.speed_test import PAPER, table2
    from music_codecs.errors import UserError

    if args.num_samples < 1 or args.max_events < 1:
        raise UserError("--num-samples and --max-events must be positive")
    if args.temperature <= 0:
        raise UserError("--temperature must be positive")
    params, run_cfg = load(args.checkpoint)
    model_cfg = run_cfg.model
    result = table2(
        params,
        model_cfg,
        num_samples=args.num_samples,
        max_events=args.max_events,
        seed=args.seed,
        temperature=args.temperature,
    )
    device = jax.devices()[0]
    result.update(
        checkpoint=str(args.checkpoint),
        jax=jax.__version__,
        device=f"{device.platform} ({device.device_kind})",
        cpus=os.cpu_count(),
        machine=platform.processor() or platform.machine(),
    )
    print(
        f"{result['samples']} samples, {result['notes']} notes in {result['seconds']:.2f} s: "
        f"{result['notes_per_s']:.1f} notes/s, mean length {result['mean_length_s']:.2f} s "
        f"at 100 qpm (paper, MMT on SOD: {PAPER['notes_per_s']} notes/s, "
        f"{PAPER['mean_length_s']} s); {result['device']}"
    )
    if args.json:
        from music_codecs.atomic import write_text_atomic

        write_text_atomic(args.json, json.dumps(result, indent=1))

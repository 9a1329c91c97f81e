"""`mmt-jax train`: train MMT from a config file, through train_kit (resumes from --out)."""

HELP = "train MMT from a config file (e.g. configs/mmt/tiny.py, configs/mmt/sod.py)"


def add_arguments(parser):
    parser.add_argument("--config", required=True, help="a Python config file (get_config())")
    parser.add_argument("--data", help="prepared data folder (sets data.dir)")
    parser.add_argument("--out", help="run folder: checkpoints, metrics, exported params "
                                      "(sets train.out_dir; an existing run resumes)")
    parser.add_argument("overrides", nargs="*", metavar="KEY=VALUE",
                        help="config overrides, e.g. train.max_steps=1000 model.pos_emb=rotary")


def run(args):
    from mmt_jax.train import train
    from train_kit.config import load_config

    overrides = list(args.overrides)
    if args.data:
        overrides.append(f"data.dir={args.data}")
    if args.out:
        overrides.append(f"train.out_dir={args.out}")
    cfg = load_config(args.config, overrides)
    result = train(cfg)
    best = "" if result.best_metric is None else (
        f", best eval_loss {result.best_metric:.4f} at step {result.best_step}")
    print(f"{result.status} at step {result.step}{best}")
    if cfg.train.out_dir:
        print(f"parameters: {cfg.train.out_dir}/params (config.json beside them)")

"""`mmt-jax train`: train MMT from a config file, through train_kit's driver (resumes from --out)."""

from train_kit.cli import add_config_arguments, config_from_args, train_exit_status

HELP = "train MMT from a config file (e.g. configs/mmt/tiny.py, configs/mmt/sod.py)"
SHORTCUTS = {
    "data": ("data.path", "prepared data folder"),
    "out": ("train.out_dir", "run folder: checkpoints, metrics, exported params; an existing run resumes"),
}


def add_arguments(parser):
    add_config_arguments(parser, "configs/mmt/tiny.py", SHORTCUTS)


def run(args):
    cfg = config_from_args(args, SHORTCUTS)  # checked before JAX loads: a bad value costs a second

    from mmt_jax.train import train

    result = train(cfg)
    best = (
        ""
        if result.best_metric is None
        else (
            f", best {cfg.train.keep_best_metric or 'eval_loss'} {result.best_metric:.4f} at step "
            f"{result.best_step}"
        )
    )
    print(f"{result.status} at step {result.step}{best}")
    if result.run_dir:
        print(f"run: {result.run_dir} (run.json + params/, read by generate/evaluate --checkpoint)")
    return train_exit_status(result)

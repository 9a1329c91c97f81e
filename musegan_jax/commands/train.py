"""`musegan-jax train`: WGAN-GP training of a MuseGAN config through train_kit's driver."""

from train_kit.cli import add_config_arguments, config_from_args, train_exit_status

HELP = "train a MuseGAN from a config file (configs/musegan/*.py); rerunning resumes the run"
SHORTCUTS = {
    "data": ("data.path", "phrase file from `musegan-jax prepare`"),
    "out": ("train.out_dir", "run folder; an existing run resumes"),
}


def add_arguments(parser):
    add_config_arguments(parser, "configs/musegan/hybrid.py", SHORTCUTS)


def run(args):
    cfg = config_from_args(args, SHORTCUTS)  # checked before JAX loads: a bad value costs a second

    import json

    import jax

    from musegan_jax.train import train

    result = train(cfg)
    if jax.process_index():
        return train_exit_status(result)
    print(
        json.dumps(
            {"status": result.status, "steps": result.step, "run": result.run_dir, "metrics": result.metrics},
            indent=2,
        )
    )
    return train_exit_status(result)

"""`clipsonic-jax train`: train the CLIP-conditioned mel diffusion model (resumes from --out)."""

from train_kit.cli import add_config_arguments, config_from_args, train_exit_status

HELP = "train the CLIP-conditioned mel diffusion model from a config (e.g. configs/clipsonic/tiny.py)"
SHORTCUTS = {
    "data": ("data.path", "folder of videos"),
    "clip": ("data.clip_dir", "Hugging Face CLIP folder (safetensors + config.json)"),
    "out": ("train.out_dir", "run folder; an existing run resumes"),
}


def add_arguments(parser):
    add_config_arguments(parser, "configs/clipsonic/tiny.py", SHORTCUTS)


def run(args):
    cfg = config_from_args(args, SHORTCUTS)  # checked before JAX loads: a bad value costs a second

    from clipsonic_jax.train import train

    result = train(cfg)
    print(f"{result.status} at step {result.step}")
    if result.run_dir:
        best = cfg.train.keep_best_metric
        which = (
            f"the best by {best} (step {result.best_step}, {result.best_metric:.6g})"
            if best and result.best_step is not None
            else f"step {result.step}"
        )
        print(
            f"model: {result.run_dir}, {which} "
            f"(use: clipsonic-jax generate --checkpoint {result.run_dir} ...)"
        )
    return train_exit_status(result)

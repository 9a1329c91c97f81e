"""`clipsonic-jax train-vocoder`: train a HiFi-GAN / BigVGAN vocoder (resumes from --out)."""

from train_kit.cli import add_config_arguments, config_from_args, train_exit_status

HELP = (
    "train a neural vocoder (HiFi-GAN or BigVGAN generator, multi-period + multi-scale "
    "discriminators) on a folder of audio or videos; default config configs/clipsonic/vocoder_tiny.py "
    "trains on synthetic clips"
)
SHORTCUTS = {
    "data": ("data.path", "folder of audio files or videos (searched recursively)"),
    "out": ("train.out_dir", "run folder; an existing run resumes"),
}


def add_arguments(parser):
    add_config_arguments(parser, "configs/clipsonic/vocoder_tiny.py", SHORTCUTS)


def run(args):
    from clipsonic_jax.vocoder_train import train

    cfg = config_from_args(args, SHORTCUTS)
    result = train(cfg)
    print(f"{result.status} at step {result.step}")
    if result.run_dir:
        print(
            f"vocoder: {result.run_dir} (use: clipsonic-jax generate --checkpoint RUN "
            f"--vocoder {result.run_dir} ...)"
        )
    return train_exit_status(result)

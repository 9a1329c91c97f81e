"""The `clipsonic-jax` command: one subcommand per module in clipsonic_jax/commands."""

import sys

from train_kit.cli import run_cli

DESCRIPTION = "CLIPSonic: text-to-audio from unlabeled videos via CLIP-conditioned mel diffusion (Dong et al., WASPAA 2023), in JAX/Flax."

# subcommand name -> module with HELP, add_arguments(parser) and run(args)
COMMANDS = {
    "make-synthetic": "clipsonic_jax.commands.make_synthetic",
    "make-tiny-clip": "clipsonic_jax.commands.make_tiny_clip",
    "train": "clipsonic_jax.commands.train",
    "train-prior": "clipsonic_jax.commands.train_prior",
    "import-prior": "clipsonic_jax.commands.import_prior",
    "train-vocoder": "clipsonic_jax.commands.train_vocoder",
    "generate": "clipsonic_jax.commands.generate",
    "evaluate": "clipsonic_jax.commands.evaluate",
    "modality-gap": "clipsonic_jax.commands.modality_gap",
}


def main(argv=None):
    sys.exit(run_cli("clipsonic-jax", DESCRIPTION, COMMANDS, argv))


if __name__ == "__main__":
    main()

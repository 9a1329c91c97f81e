"""The `musegan-jax` command: one subcommand per module in musegan_jax/commands."""

import sys

from train_kit.cli import run_cli

DESCRIPTION = "MuseGAN: multitrack piano-roll generation with GANs (Dong et al., AAAI 2018), in JAX/Flax."

COMMANDS = {
    "prepare": "musegan_jax.commands.prepare",
    "train": "musegan_jax.commands.train",
    "generate": "musegan_jax.commands.generate",
    "evaluate": "musegan_jax.commands.evaluate",
}


def main(argv=None):
    sys.exit(run_cli("musegan-jax", DESCRIPTION, COMMANDS, argv))


if __name__ == "__main__":
    main()

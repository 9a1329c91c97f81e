"""The `mmt-jax` command: one subcommand per module in mmt_jax/commands."""

import sys

from train_kit.cli import run_cli

DESCRIPTION = "MMT, the Multitrack Music Transformer (Dong et al., ICASSP 2023), in JAX/Flax."

# subcommand name -> module with HELP, add_arguments(parser) and run(args)
COMMANDS = {
    "encode": "mmt_jax.commands.encode",
    "decode": "mmt_jax.commands.decode",
    "prepare": "mmt_jax.commands.prepare",
    "train": "mmt_jax.commands.train",
    "convert-reference": "mmt_jax.commands.convert_reference",
    "generate": "mmt_jax.commands.generate",
    "evaluate": "mmt_jax.commands.evaluate",
    "speed-test": "mmt_jax.commands.speed_test",
    "attention": "mmt_jax.commands.attention",
}


def main(argv=None):
    sys.exit(run_cli("mmt-jax", DESCRIPTION, COMMANDS, argv))


if __name__ == "__main__":
    main()

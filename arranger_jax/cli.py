"""The `arranger-jax` command: one subcommand per module in arranger_jax/commands."""

import sys

from train_kit.cli import run_cli

DESCRIPTION = (
    "Arranger: per-note part separation and automatic instrumentation (Dong et al., ISMIR 2021), in JAX/Flax."
)

# subcommand name -> module with HELP, add_arguments(parser) and run(args)
COMMANDS = {
    "prepare": "arranger_jax.commands.prepare",
    "baseline": "arranger_jax.commands.baseline",
    "train": "arranger_jax.commands.train",
    "evaluate": "arranger_jax.commands.evaluate",
    "instrument": "arranger_jax.commands.instrument",
    "convert-reference": "arranger_jax.commands.convert_reference",
}


def main(argv=None):
    sys.exit(run_cli("arranger-jax", DESCRIPTION, COMMANDS, argv))


if __name__ == "__main__":
    main()

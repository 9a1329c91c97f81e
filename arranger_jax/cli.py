"""The `arranger-jax` command: one subcommand per module in arranger_jax/commands."""
import sys

from train_kit.cli import run_cli

DESCRIPTION = "Arranger: per-note part separation and automatic instrumentation (Dong et al., ISMIR 2021), in JAX/Flax."

# subcommand name -> module with HELP, add_arguments(parser) and run(args)
COMMANDS = {
}


def main(argv=None):
    sys.exit(run_cli("arranger-jax", DESCRIPTION, COMMANDS, argv))


if __name__ == "__main__":
    main()

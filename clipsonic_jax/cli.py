"""The `clipsonic-jax` command: one subcommand per module in clipsonic_jax/commands."""
import sys

from train_kit.cli import run_cli

DESCRIPTION = "CLIPSonic: text-to-audio from unlabeled videos via CLIP-conditioned mel diffusion (Dong et al., WASPAA 2023), in JAX/Flax."

# subcommand name -> module with HELP, add_arguments(parser) and run(args)
COMMANDS = {
}


def main(argv=None):
    sys.exit(run_cli("clipsonic-jax", DESCRIPTION, COMMANDS, argv))


if __name__ == "__main__":
    main()

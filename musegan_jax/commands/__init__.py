"""`musegan-jax` subcommands: one module each, with HELP, add_arguments(parser) and run(args)."""

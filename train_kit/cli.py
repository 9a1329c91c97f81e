"""One command-line front end shared by the three systems' console scripts.

Each subcommand is a module with `HELP` (one line), `add_arguments(parser)` and `run(args)`;
command modules import their heavy dependencies inside `run`, so `--help` stays fast.
A `UserError` (bad file, bad config, missing checkpoint) becomes one line on stderr and exit 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from music_codecs.errors import UserError


def build_parser(prog, description, commands):
    parser = argparse.ArgumentParser(prog=prog, description=description)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module_name in commands.items():
        module = importlib.import_module(module_name)
        p = sub.add_parser(
            name,
            help=module.HELP,
            description=module.HELP,
            formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        )
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def run_cli(prog, description, commands, argv=None):
    parser = build_parser(prog, description, commands)
    args = parser.parse_args(argv)
    if getattr(args, "_run", None) is None:
        parser.print_help()
        return 0 if not commands else 1
    try:
        return args._run(args) or 0
    except UserError as err:
        print(f"{prog}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130


def add_config_arguments(parser, example, shortcuts):
    """--config, shortcut flags and KEY=VALUE overrides: what every `train` command takes.

    shortcuts: {flag name: (config key, help)}, e.g. {"data": ("data.path", "prepared data")}.
    """
    parser.add_argument(
        "--config", required=True, help=f"a Python config file with get_config(), e.g. {example}"
    )
    for flag, (key, text) in shortcuts.items():
        parser.add_argument(f"--{flag}", help=f"{text} (sets {key})")
    parser.add_argument(
        "overrides", nargs="*", metavar="KEY=VALUE", help="config overrides, e.g. train.max_steps=1000"
    )


def config_from_args(args, shortcuts):
    """The config named by --config with the shortcut flags and overrides applied."""
    from train_kit.config import load_config

    overrides = list(args.overrides)
    for flag, (key, _) in shortcuts.items():
        value = getattr(args, flag)
        if value:
            overrides.append(f"{key}={value}")
    return load_config(args.config, overrides)

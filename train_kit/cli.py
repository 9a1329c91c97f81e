"""One command-line front end shared by the three systems' console scripts.

Each subcommand is a module with `HELP` (one line), `add_arguments(parser)` and `run(args)`;
command modules import their heavy dependencies inside `run`, so `--help` stays fast, and check
their paths and numbers with `train_kit.paths` first, so a bad argument costs no JAX start-up.

Every error a user can cause reaches them as one line, `<prog>: error: <message>`, on stderr.
Exit statuses (documented in README.md, "Exit statuses"):
    0    done
    1    the work ran but its result is not usable (e.g. a non-finite score)
    2    bad input: a file, path, config value or argument (a UserError; argparse's usage errors)
    74   the system refused a read or write: disk full (ENOSPC, or EFBIG past a file-size
         limit), permission denied, read-only file system, ... (also when raised deep inside
         orbax, NumPy or another library); what was written before is intact
    75   training was preempted (SIGTERM): a checkpoint was saved, the same command resumes
    130  interrupted (Ctrl-C)
A SIGTERM outside the fit loop keeps its default meaning (killed: 143).
"""

from __future__ import annotations

import argparse
import errno
import importlib
import logging
import os
import sys

from music_codecs.errors import UserError

EXIT_FAILED = 1
EXIT_USER = 2
EXIT_IO = 74  # sysexits.h EX_IOERR
EXIT_PREEMPTED = 75  # sysexits.h EX_TEMPFAIL: try again (the run resumes)
EXIT_INTERRUPTED = 130

_IO_ERRNOS = {
    errno.ENOSPC: "no space left on the device",
    errno.EFBIG: "file too large (no space left within the file-size limit)",
    errno.EDQUOT: "disk quota exceeded",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.EROFS: "read-only file system",
    errno.ENOENT: "no such file or folder",
    errno.ENOTDIR: "not a folder",
    errno.EISDIR: "is a folder",
    errno.EEXIST: "already exists",
    errno.EIO: "input/output error",
    errno.ENAMETOOLONG: "file name too long",
    errno.EMFILE: "too many open files",
}
# Libraries that wrap the OS error in their own type (tensorstore under orbax) keep its text.
_IO_TEXTS = {
    "No space left on device": errno.ENOSPC,
    "File too large": errno.EFBIG,
    "Disk quota exceeded": errno.EDQUOT,
    "Permission denied": errno.EACCES,
    "Read-only file system": errno.EROFS,
}


def io_error_message(err):
    """One line for an OS-level read/write failure anywhere in `err`'s chain, or None."""
    seen = set()
    while err is not None and id(err) not in seen:
        seen.add(id(err))
        if isinstance(err, OSError) and err.errno in _IO_ERRNOS:
            where = f"{_public(err.filename)}: " if err.filename else ""
            if err.filename2:
                where = f"{_public(err.filename)} -> {_public(err.filename2)}: "
            return f"{where}{_IO_ERRNOS[err.errno]}"
        text = str(err)
        for needle, code in _IO_TEXTS.items():
            if needle in text:
                return f"{_IO_ERRNOS[code]} ({_first_line(text)[:200]})"
        err = err.__cause__ or err.__context__
    return None


# A path the user named that is wrong (rather than a system refusing the write): status 2.
_PATH_ERRNOS = {errno.ENOENT, errno.ENOTDIR, errno.EISDIR, errno.EEXIST, errno.ENAMETOOLONG}


def _errno(err):
    while err is not None:
        if isinstance(err, OSError) and err.errno in _IO_ERRNOS:
            return err.errno
        err = err.__cause__ or err.__context__
    return None


def _public(filename):
    """The file a user named, not our temporary name for it (music_codecs.atomic)."""
    from music_codecs.atomic import private_name

    return str(filename).replace(f".{private_name()}.tmp", "")


def _first_line(text):
    return (str(text).strip().splitlines() or [""])[0]


def train_exit_status(result):
    """The exit status of a `train` command: EXIT_PREEMPTED after a SIGTERM, else 0."""
    return EXIT_PREEMPTED if getattr(result, "status", None) == "preempted" else 0


class _Parser(argparse.ArgumentParser):
    """argparse with usage errors in one line (the usage itself is one --help away)."""

    def error(self, message):
        self.exit(EXIT_USER, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser(prog, description, commands):
    parser = _Parser(prog=prog, description=description)
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


class _QuietIOErrors(logging.Filter):
    """Drops library log records (orbax's background savers log to absl with a traceback each)
    about a failed read or write: the same error reaches run_cli and becomes the one line."""

    def filter(self, record):
        exc = record.exc_info[1] if record.exc_info else None
        if exc is not None and io_error_message(exc):
            return False
        return not any(needle in record.getMessage() for needle in _IO_TEXTS)


def _closed_loop(exc):
    """tensorstore callbacks that fire after orbax closed their event loop (after a failed
    save, whose own error is reported in one line) raise this; it is noise, not a bug."""
    return isinstance(exc, RuntimeError) and str(exc) == "Event loop is closed"


def _quiet_closed_loops(default):
    def hook(exc_type, exc, tb):
        if not _closed_loop(exc):
            default(exc_type, exc, tb)

    return hook


def _quiet_closed_loops_unraisable(default):
    def hook(unraisable):
        if not _closed_loop(unraisable.exc_value):
            default(unraisable)

    return hook


def run_cli(prog, description, commands, argv=None):
    logging.getLogger("absl").addFilter(_QuietIOErrors())
    if not getattr(sys.excepthook, "_train_kit", False):
        sys.excepthook = _quiet_closed_loops(sys.excepthook)
        sys.excepthook._train_kit = True
        sys.unraisablehook = _quiet_closed_loops_unraisable(sys.unraisablehook)
    parser = build_parser(prog, description, commands)
    args = parser.parse_args(argv)
    if getattr(args, "_run", None) is None:
        parser.print_help()
        return 0 if not commands else 1
    try:
        return args._run(args) or 0
    except UserError as err:
        return _fail(prog, _first_line(err) or type(err).__name__, EXIT_USER)
    except KeyboardInterrupt:
        return _fail(prog, "interrupted", EXIT_INTERRUPTED, prefix="")
    except BrokenPipeError:  # `... | head`: the reader left; nothing to say
        return EXIT_FAILED
    except Exception as err:
        message = io_error_message(err)
        if message is None:
            raise  # a bug: the traceback is what a report needs
        return _fail(prog, message, EXIT_USER if _errno(err) in _PATH_ERRNOS else EXIT_IO)


def _fail(prog, message, status, prefix="error: "):
    # One line even for multi-line messages (a library's text); the rest is noise here.
    print(f"{prog}: {prefix}{' '.join(str(message).split())}", file=sys.stderr)
    return status


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
    """The config named by --config with the shortcut flags and overrides applied, after its
    paths are checked: --config readable, --data existing (never created or filled for you),
    --out and train.out_dir creatable and not the data; other path flags existing or creatable."""
    from train_kit import paths
    from train_kit.config import load_config

    paths.input_file(args.config, "--config")
    overrides = list(args.overrides)
    for flag, (key, _) in shortcuts.items():
        value = getattr(args, flag)
        if value:
            if flag == "data":
                paths.input_path(value, "--data")
            elif flag == "out":
                paths.output_dir(value, "--out")
            elif not os.path.exists(value):
                paths.output_dir(value, f"--{flag}")
            overrides.append(f"{key}={value}")
    cfg = load_config(args.config, overrides)
    train = getattr(cfg, "train", None)
    out_dir = getattr(train, "out_dir", "")
    if out_dir:
        data = getattr(getattr(cfg, "data", None), "path", "") or None
        paths.output_dir(out_dir, "train.out_dir", inputs=[data])
    return cfg

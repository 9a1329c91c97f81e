"""Checks on the paths a command reads and writes, made before any work starts.

Every command calls these on its arguments first, so a missing input, an output that cannot be
created, or an output that would overwrite an input (or another output) is a one-line
`PathError` within a second, before JAX or a model is loaded, and nothing has been written.

    src = input_file(args.prompt, "--prompt", suffixes=MUSIC_SUFFIXES)
    data = input_dir(args.data, "--data")
    run = run_dir(args.checkpoint)                  # "no such run folder" when missing
    out = output_dir(args.out, "--out")             # exists as a writable folder, or creatable
    mid = output_file(args.out, "OUT", inputs=[src], suffixes=(".mid", ".midi"))
    distinct_outputs([(out / "a.wav", "x/a.png"), (out / "a.wav", "y/a.png")])  # PathError: clash
    positive(args.num_samples, "--num-samples"); at_least(args.limit, 0, "--limit")

Imports only the standard library (and the UserError base class), so it is cheap to call from
`--help`-fast command modules.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

from music_codecs.errors import UserError

MUSIC_SUFFIXES = (".mid", ".midi", ".xml", ".mxl", ".musicxml")


class PathError(UserError):
    """An input that cannot be read, or an output that cannot (or must not) be written."""


class ValueRangeError(UserError):
    """A command-line number outside its meaningful range."""


def _name(path, flag):
    return f"{flag} {path}" if flag else str(path)


def same_path(a, b) -> bool:
    """Do `a` and `b` name one file (after symlinks, or as hard links of one file)?"""
    a, b = Path(a), Path(b)
    try:
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
    except OSError:
        pass
    return a.resolve() == b.resolve()


def input_file(path, flag="", suffixes=()) -> Path:
    """`path` as an existing, readable file (with one of `suffixes`, when given)."""
    if path is None or str(path) == "":
        raise PathError(f"{flag or 'input'}: no file given")
    p = Path(path)
    if not p.exists():
        raise PathError(f"{_name(path, flag)}: no such file")
    if p.is_dir():
        raise PathError(f"{_name(path, flag)}: is a folder; give a file")
    if not os.access(p, os.R_OK):
        raise PathError(f"{_name(path, flag)}: not readable (permission denied)")
    if suffixes and p.suffix.lower() not in suffixes:
        raise PathError(f"{_name(path, flag)}: expected a {', '.join(suffixes)} file")
    return p


def input_dir(path, flag="") -> Path:
    """`path` as an existing folder whose entries can be listed and read."""
    if path is None or str(path) == "":
        raise PathError(f"{flag or 'input'}: no folder given")
    p = Path(path)
    if not p.exists():
        raise PathError(f"{_name(path, flag)}: input folder not found")
    if not p.is_dir():
        raise PathError(f"{_name(path, flag)}: is a file; give a folder")
    if not os.access(p, os.R_OK | os.X_OK):
        raise PathError(f"{_name(path, flag)}: not readable (permission denied)")
    return p


def run_dir(path, flag="--checkpoint", package=None) -> Path:
    """A run folder to read (run.json + params/ are checked by train_kit.run when loading); with
    `package`, a bare name that is no folder here may also name a model shipped in that package
    (`<package>/pretrained/<name>/`, see train_kit.pretrained), whose folder is returned."""
    if path is not None and not Path(path).exists():
        shipped = _shipped(path, package)
        if shipped is None:
            raise PathError(f"{_name(path, flag)}: no such run folder")
        path = shipped
    return input_dir(path, flag)


def _shipped(name, package):
    """`<package>/pretrained/<name>` when it holds a run (found without importing the package)."""
    import importlib.util

    if package is None or os.sep in str(name) or "/" in str(name):
        return None
    spec = importlib.util.find_spec(package)
    roots = (spec.submodule_search_locations or []) if spec else []
    for root in roots:
        folder = Path(root) / "pretrained" / str(name)
        if (folder / "run.json").is_file():
            return folder
    return None


def input_path(path, flag="") -> Path:
    """An existing, readable file or folder."""
    p = Path(path) if path is not None else None
    if p is not None and p.is_dir():
        return input_dir(path, flag)
    if p is not None and not p.exists():
        raise PathError(f"{_name(path, flag)}: no such file or folder")
    return input_file(path, flag)


def _creatable_dir(p: Path, label: str) -> None:
    """`p` is a writable folder, or can be made (its nearest existing ancestor is one)."""
    if p.exists():
        if not p.is_dir():
            raise PathError(f"{label}: {p} exists and is not a folder")
        if not os.access(p, os.W_OK | os.X_OK):
            raise PathError(f"{label}: folder {p} is not writable (permission denied)")
        return
    ancestor = p.absolute().parent
    while not ancestor.exists():
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise PathError(f"{label}: cannot create {p}: {ancestor} is a file, not a folder")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise PathError(f"{label}: cannot create {p}: {ancestor} is not writable (permission denied)")


def output_dir(path, flag="--out", inputs=(), new=False) -> Path:
    """`path` as a folder to write into: existing and writable, or creatable. `new`: it must
    not exist yet. It must not be one of `inputs` (files or folders read by the command)."""
    if path is None or str(path) == "":
        raise PathError(f"{flag or 'output'}: no folder given")
    p = Path(path)
    label = _name(path, flag)
    if new and p.exists():
        raise PathError(f"{label}: already exists; give a new folder (this never overwrites)")
    _creatable_dir(p, label)
    for source in inputs:
        if source is not None and same_path(p, source):
            raise PathError(f"{label}: is also the input {source}; give another folder")
    return p


def output_file(path, flag="", inputs=(), suffixes=()) -> Path:
    """`path` as a file to (re)write: not a folder, not read-only, its folder creatable, not
    one of `inputs`, and ending in one of `suffixes` when given."""
    if path is None or str(path) == "":
        raise PathError(f"{flag or 'output'}: no file given")
    p = Path(path)
    label = _name(path, flag)
    if suffixes and p.suffix.lower() not in suffixes:
        raise PathError(f"{label}: the output must end in {', '.join(suffixes)}")
    if p.is_dir():
        raise PathError(f"{label}: is a folder; give a file name")
    if p.exists() and not os.access(p, os.W_OK):
        raise PathError(f"{label}: is read-only; give another file name")
    _creatable_dir(p.parent, label)
    for source in inputs:
        if source is not None and same_path(p, source):
            raise PathError(f"{label}: would overwrite the input {source}")
    return p


def distinct_outputs(outputs, inputs=()) -> None:
    """`outputs`: (output path, what it is made from) pairs. Refuses two outputs that are one
    file (two inputs with one stem, two texts that slug alike) and outputs that are inputs."""
    seen = {}
    for path, source in outputs.items() if isinstance(outputs, dict) else outputs:
        key = os.path.normcase(os.path.abspath(os.fspath(path)))
        if key in seen and seen[key] != source:
            raise PathError(
                f"{seen[key]!s} and {source!s} would both be written to {path}; give distinct names"
            )
        seen[key] = source
        for given in inputs:
            if given is not None and same_path(path, given):
                raise PathError(f"{path}: the output for {source} would overwrite the input {given}")


def positive(value, flag, allow_none=True):
    """`value` > 0 and finite (None passes when `allow_none`)."""
    if value is None and allow_none:
        return value
    if value is None or not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
        raise ValueRangeError(f"{flag} must be a positive number, got {value}")
    return value


def at_least(value, low, flag, allow_none=True):
    """`value` >= low and finite (None passes when `allow_none`)."""
    if value is None and allow_none:
        return value
    if value is None or not (isinstance(value, (int, float)) and math.isfinite(value) and value >= low):
        raise ValueRangeError(f"{flag} must be at least {low}, got {value}")
    return value

"""Shared harness of the tests/test_bad_input_*.py files: bad inputs through the real console
scripts, in subprocesses, checked for one clean line, the right exit and nothing lost.

    case = Case("mmt-jax", ["decode", "x.npy", "x.npy"], fails=True, expect="overwrite")
    results = run_cases(tmp_path, [case, ...])   # two at a time; hashes every file of tmp_path
    assert_clean(results)                         # one line, no traceback, inputs untouched

`fsize` runs a case under RLIMIT_FSIZE (SIGXFSZ ignored, so a write past it fails with EFBIG):
a full disk without root.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import hashlib
import os
import resource
import shutil
import signal
import subprocess
import sys
from pathlib import Path

PACKAGES = {"mmt-jax": "mmt_jax", "arranger-jax": "arranger_jax", "clipsonic-jax": "clipsonic_jax"}
PACKAGES["musegan-jax"] = "musegan_jax"


@dataclasses.dataclass
class Case:
    script: str
    args: list
    fails: bool = True
    expect: str = ""  # a piece of the error line (case-insensitive)
    fsize: int | None = None  # RLIMIT_FSIZE in bytes: a disk that is full past this
    changes: tuple = ()  # paths (relative to the root) the case may create or change
    status: int | None = None  # the exact exit status wanted, when it matters


@dataclasses.dataclass
class Result:
    case: Case
    returncode: int
    stdout: str
    stderr: str
    changed: list


def command(script):
    """The installed console script, or (where this environment lacks it) its module."""
    installed = Path(sys.executable).with_name(script)
    if installed.exists():
        return [str(installed)]
    found = shutil.which(script)
    return [found] if found else [sys.executable, "-m", f"{PACKAGES[script]}.cli"]


def tree_hash(root):
    out = {}
    for path in sorted(Path(root).rglob("*")):
        if path.is_file() and not path.is_symlink():
            out[str(path.relative_to(root))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def _limits(fsize):
    def apply():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))

    return apply if fsize is not None else None


def env():
    e = dict(os.environ)
    e.update(JAX_PLATFORMS="cpu", MPLBACKEND="Agg", PYTHONWARNINGS="ignore", TQDM_DISABLE="1")
    e.pop("XLA_FLAGS", None)
    return e


def run_one(root, case, timeout=240):
    proc = subprocess.run(
        command(case.script) + [str(a) for a in case.args],
        cwd=root,
        capture_output=True,
        text=True,
        env=env(),
        preexec_fn=_limits(case.fsize),
        timeout=timeout,
    )
    return proc


def _children_cpu():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_cases(root, cases, workers=2):
    """Run `cases` in `root`, two at a time, then each alone-checked for what it changed.
    Cases run side by side must not write the same paths (each names its own outputs)."""
    before = tree_hash(root)
    cpu = _children_cpu()
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        procs = list(pool.map(lambda c: run_one(root, c), cases))
    print(f"{len(cases)} cases: {_children_cpu() - cpu:.1f} s CPU in the subprocesses")
    after = tree_hash(root)
    changed = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
    results = []
    for case, proc in zip(cases, procs):
        mine = [k for k in changed if any(k == c or k.startswith(f"{c}/") for c in case.changes)]
        results.append(Result(case, proc.returncode, proc.stdout, proc.stderr, mine))
    allowed = {k for r in results for k in r.changed}
    return results, [k for k in changed if k not in allowed]


def problems(result):
    """What is wrong with one result ([] when it is clean)."""
    case, out = result.case, []
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    where = f"{case.script} {' '.join(map(str, case.args))}"
    if "Traceback" in result.stderr:
        out.append(f"{where}: traceback:\n{result.stderr[-3000:]}")
    if case.fails:
        if result.returncode == 0:
            out.append(f"{where}: exit 0, expected a failure; stdout {result.stdout[-500:]!r}")
        if len(lines) != 1:
            out.append(f"{where}: {len(lines)} stderr lines, expected one: {result.stderr[-2000:]!r}")
        elif case.expect and case.expect.lower() not in lines[0].lower():
            out.append(f"{where}: error line {lines[0]!r} lacks {case.expect!r}")
    elif result.returncode != 0:
        out.append(f"{where}: exit {result.returncode}: {result.stderr[-2000:]!r}")
    if case.status is not None and result.returncode != case.status:
        out.append(f"{where}: exit {result.returncode}, expected {case.status}")
    return out


def assert_clean(results, unexpected_changes):
    found = [p for r in results for p in problems(r)]
    if unexpected_changes:
        found.append(f"files changed that no case may change: {unexpected_changes}")
    assert not found, "\n\n".join(found)


# A stand-in subcommand for in-process tests of train_kit.cli's error handling:
# `run_cli("x", "", {"fail": "bad_input"}, ["fail", "ENOSPC"])` raises that OS error.
HELP = "raise the OS error named by ERRNO (tests only)"


def add_arguments(parser):
    parser.add_argument("errno")


def run(args):
    import errno

    code = getattr(errno, args.errno)
    raise OSError(code, os.strerror(code), "/data/out/file.npy")

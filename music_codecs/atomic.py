"""Files that appear only once complete: a crash or a full disk mid-write leaves the old file.

with atomic_file(path) as f:      # binary; written to a per-process temporary name,
    np.savez(f, ...)              # flushed to disk, then renamed over `path`
private_name()                    # "<host>-<pid>": a suffix no other process of a job uses
"""

from __future__ import annotations

import contextlib
import os
import socket


def private_name() -> str:
    """A name no other process of the job uses (hosts may share the file system)."""
    return f"{socket.gethostname()}-{os.getpid()}"


@contextlib.contextmanager
def atomic_file(path):
    """A binary file object whose contents replace `path` only when the block ends cleanly."""
    path = os.fspath(path)
    tmp = f"{path}.{private_name()}.tmp"
    try:
        with open(tmp, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)

"""Files that appear only once complete: a crash or a full disk mid-write leaves the old file.

with atomic_file(path) as f:      # binary; written to a per-process temporary name,
    np.savez(f, ...)              # flushed to disk, then renamed over `path`
with atomic_path("out/a.png") as tmp:   # for writers that need a file name (PIL, soundfile,
    figure.savefig(tmp)                 # matplotlib): `tmp` keeps the suffix, then replaces
write_text_atomic(path, text); write_bytes_atomic(path, data)
private_name()                    # "<host>-<pid>": a suffix no other process of a job uses
with folder_lock(out_dir, "a prepare run"): ...   # one writer at a time (UserError otherwise)
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
    """A binary file object whose contents replace `path` only when the block ends cleanly
    (its folder is created if missing)."""
    path = os.fspath(path)
    tmp = f"{path}.{private_name()}.tmp"
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    try:
        with open(tmp, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


@contextlib.contextmanager
def atomic_path(path):
    """A temporary file name beside `path` (same suffix, so writers that infer the format from
    it still work); renamed over `path` when the block ends cleanly, removed otherwise."""
    path = os.fspath(path)
    root, ext = os.path.splitext(path)
    tmp = f"{root}.{private_name()}.tmp{ext}"
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    try:
        yield tmp
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def write_bytes_atomic(path, data: bytes) -> str:
    with atomic_file(path) as f:
        f.write(data)
    return os.fspath(path)


def write_text_atomic(path, text: str) -> str:
    return write_bytes_atomic(path, text.encode("utf-8"))


LOCK_FILE = ".lock"


@contextlib.contextmanager
def folder_lock(folder, what="another process"):
    """Hold an exclusive lock on `folder` (a `.lock` file in it) for the block; a second writer
    gets a one-line UserError at once instead of interleaving its files with ours. The lock is
    the kernel's (flock), so a killed holder never leaves a stale one."""
    import fcntl

    from music_codecs.errors import UserError

    os.makedirs(folder, exist_ok=True)
    path = os.path.join(os.fspath(folder), LOCK_FILE)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "unknown"
            raise UserError(
                f"{folder}: {what} is writing here (lock held by {holder}); wait for it to finish "
                f"or give another folder"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{private_name()}\n".encode(), 0)
        yield folder
    finally:
        os.close(fd)  # releases the lock

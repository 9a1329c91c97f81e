"""atomic_file: the new contents appear whole or not at all."""

import pytest

from music_codecs.atomic import atomic_file


def test_replaces_only_when_complete(tmp_path):
    path = tmp_path / "a.bin"
    path.write_bytes(b"old")
    with pytest.raises(OSError):
        with atomic_file(path) as f:
            f.write(b"half")
            raise OSError(28, "No space left on device")
    assert path.read_bytes() == b"old" and sorted(p.name for p in tmp_path.iterdir()) == ["a.bin"]
    with atomic_file(path) as f:
        f.write(b"new")
    assert path.read_bytes() == b"new" and sorted(p.name for p in tmp_path.iterdir()) == ["a.bin"]

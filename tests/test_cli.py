"""The three console scripts answer --help and list their subcommands."""

import subprocess
import sys

import pytest

from arranger_jax import cli as arranger_cli
from clipsonic_jax import cli as clipsonic_cli
from mmt_jax import cli as mmt_cli


@pytest.mark.parametrize("module", [mmt_cli, arranger_cli, clipsonic_cli])
def test_help_lists_every_subcommand(module):
    out = subprocess.run(
        [sys.executable, "-m", module.__name__, "--help"], capture_output=True, text=True, check=True
    ).stdout
    for name in module.COMMANDS:
        assert name in out
    assert "usage:" in out


def test_music_codecs_does_not_import_jax():
    code = "import sys, music_codecs; assert 'jax' not in sys.modules, 'jax imported'"
    subprocess.run([sys.executable, "-c", code], check=True)

"""The paper's composer MuseGAN: one generator for all five tracks (shared latent + temporal
latent, 2 x 64), one critic. Otherwise as hybrid.py."""

import importlib.util
from pathlib import Path

_spec = importlib.util.spec_from_file_location("_hybrid", Path(__file__).with_name("hybrid.py"))
_hybrid = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_hybrid)


def get_config():
    return _hybrid.get_config("composer")

"""Track-conditional hybrid MuseGAN (accompaniment): an encoder maps the given piano track into
every layer of the four other bar generators (reference §1.2). Otherwise as hybrid.py.
    musegan-jax generate --checkpoint runs/musegan/hybrid_conditional --input piano.mid"""

import dataclasses
import importlib.util
from pathlib import Path

_spec = importlib.util.spec_from_file_location("_hybrid", Path(__file__).with_name("hybrid.py"))
_hybrid = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_hybrid)


def get_config():
    cfg = _hybrid.get_config("hybrid", conditional=True, condition_track="piano")
    return dataclasses.replace(
        cfg, train=dataclasses.replace(cfg.train, out_dir="runs/musegan/hybrid_conditional")
    )

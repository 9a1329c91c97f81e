"""Finding a model by name: the small pretrained models that ship inside each system's package.

    resolve("music21", "mmt_jax")          # <site-packages>/mmt_jax/pretrained/music21
    resolve("runs/mmt/tiny", "mmt_jax")    # a run folder on disk is taken as it is
    available("mmt_jax")                   # ["music21"]: the shipped names

A shipped model is an ordinary run folder (run.json + params/) with its MODEL_CARD.md and
metrics beside it, under `<package>/pretrained/<name>/`, so `load("name")` needs no download.
A name that is neither a folder nor a shipped model is a one-line RunError listing the names.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from train_kit.run import RUN_FILE, RunError

FOLDER = "pretrained"


def root(package: str) -> Path:
    """The package's pretrained/ folder (it may not exist)."""
    return Path(str(resources.files(package))) / FOLDER


def available(package: str) -> list[str]:
    """Names of the models shipped in `package`, sorted."""
    where = root(package)
    if not where.is_dir():
        return []
    return sorted(p.name for p in where.iterdir() if (p / RUN_FILE).is_file())


def resolve(name_or_dir, package: str) -> Path:
    """A run folder for a path or a shipped model's name (paths win when both exist)."""
    path = Path(name_or_dir)
    if path.is_dir():
        return path
    shipped = root(package) / str(name_or_dir)
    if "/" not in str(name_or_dir) and (shipped / RUN_FILE).is_file():
        return shipped
    names = ", ".join(available(package)) or "none"
    raise RunError(f"{name_or_dir}: neither a run folder nor a shipped {package} model (shipped: {names})")


def model_card(run_dir) -> str:
    """The MODEL_CARD.md beside a shipped model's run.json ("" for a run without one)."""
    card = Path(run_dir) / "MODEL_CARD.md"
    return card.read_text() if card.is_file() else ""


def count_parameters(params) -> int:
    """Number of values in a parameter pytree."""
    import jax
    import numpy as np

    return int(sum(np.size(x) for x in jax.tree.leaves(params)))

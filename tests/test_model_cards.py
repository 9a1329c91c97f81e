"""The shipped models: each has a card that matches it (parameter counts, metrics), they are
small, and `make models` (demo_site.models) reproduces exactly the ones that ship."""

import json
import re

import pytest

from demo_site.models import MODELS, _fmt, _shown, shipped_dir
from train_kit.pretrained import available, resolve

PACKAGES = ("mmt_jax", "arranger_jax", "clipsonic_jax", "musegan_jax")
SHIPPED = [(p, n) for p in PACKAGES for n in available(p)]


def _count(params):
    import jax

    return sum(x.size for x in jax.tree.leaves(params))


def test_make_models_reproduces_what_ships():
    assert sorted(SHIPPED) == sorted((m.package, m.name) for m in MODELS)


def test_all_together_well_under_20_mb():
    total = sum(f.stat().st_size for p, n in SHIPPED for f in resolve(n, p).rglob("*") if f.is_file())
    assert 0 < total < 20e6


@pytest.mark.parametrize("package,name", SHIPPED)
def test_card_matches_its_model(package, name):
    from train_kit.run import load_params, read_run_info

    folder = resolve(name, package)
    assert folder == shipped_dir(next(m for m in MODELS if m.name == name))
    card = (folder / "MODEL_CARD.md").read_text()
    info = read_run_info(folder)
    stated = dict(re.findall(r"(\w+) ([\d,]+)", re.search(r"^- Parameters: (.*)$", card, re.M).group(1)))
    assert int(stated["model"].replace(",", "")) == _count(load_params(folder))
    if "prior" in stated:
        assert int(stated["prior"].replace(",", "")) == _count(load_params(folder / "prior"))
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics and info["metrics"].items() <= metrics.items()
    for key, value in metrics.items():  # every metric in the card's table, as metrics.json has it
        assert f"| {key} | {_fmt(value)} |" in card
    assert f"{info['step']} exported" in card
    spec = next(m for m in MODELS if m.name == name)
    for _, argv in spec.steps:  # the exact commands, each with its time
        assert re.search(rf"\| `{re.escape(_shown(argv, spec))}` \| [\d.]+ min \|", card)
    assert not (folder / "checkpoints").exists()  # inference needs the export only

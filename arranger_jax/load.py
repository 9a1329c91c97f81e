"""Reading a trained or converted Arranger run for inference (no training code imported).

    trained = load("runs/arranger/bach_lstm")
    trained.config          the run's Config (config.Config); .config.model builds the labeller
    trained.params          NumPy parameters, checked against that model's shapes
    trained.model           build_model(trained.config.model)
    trained.dataset         the dataset whose parts the labels name (bach, musicnet, ...)

A missing folder, another system's run, an old-format run or parameters that do not fit the
model raise a one-line train_kit.run.RunError (a UserError).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from arranger_jax.config import ArrangerConfig, Config
from train_kit.config import ConfigError, from_dict

SYSTEM = "arranger"


def example_inputs(num_parts):
    """A one-note batch of model inputs (shapes only: parameters do not depend on the length)."""
    from arranger_jax import data
    from arranger_jax import features as F

    piece = data.Piece("x", [0], [60], [24], [64], [0])
    return F.batch([F.piece_inputs(piece, num_parts)])[0]


def abstract_params(model_config: ArrangerConfig):
    """The model's parameters as ShapeDtypeStructs, without logical-name boxes."""
    import jax

    from arranger_jax.models import build_model
    from train_kit.sharding import unbox

    model = build_model(model_config)
    example = example_inputs(model_config.num_parts)
    return unbox(jax.eval_shape(lambda: model.init(jax.random.key(0), example)["params"]))


@dataclasses.dataclass
class Trained:
    config: Config
    params: Any
    path: str
    info: dict  # the whole run.json

    @property
    def dataset(self):
        return self.config.data.dataset

    @property
    def model(self):
        from arranger_jax.models import build_model

        return build_model(self.config.model)


def load(path) -> Trained:
    from train_kit.run import RunError, check_params, load_run

    run = load_run(path, system=SYSTEM)
    try:
        cfg = from_dict(Config, run.config)
    except ConfigError as err:
        raise RunError(f"{path}: run.json holds no usable Arranger config ({err})") from err
    params = check_params(run.params, abstract_params(cfg.model), str(path))
    return Trained(cfg, params, str(path), run.info)

"""Reading a trained MuseGAN run for inference (no training code imported).

    trained = load("runs/musegan/hybrid")
    trained.config     the run's Config; trained.models (generator, critic); trained.params
    trained.sampler()  a generate.Sampler

A missing folder, another system's run or parameters that do not fit raise a one-line
train_kit.run.RunError (a UserError).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from musegan_jax.config import Config
from train_kit.config import ConfigError, from_dict

SYSTEM = "musegan"


def abstract_params(models):
    import jax
    import jax.numpy as jnp

    from musegan_jax.config import PITCHES, TRACKS
    from musegan_jax.wgan import condition_of, sample_latents
    from train_kit.sharding import unbox

    def init():
        x = jnp.zeros((1, models.bars, models.steps, PITCHES, len(TRACKS)))
        latents = sample_latents(jax.random.key(0), 1, models.cfg)
        g = models.generator.init(jax.random.key(1), latents, False, condition_of(x, models.cfg))
        c = models.critic.init(jax.random.key(2), x)
        return {"generator": g["params"], "batch_stats": g["batch_stats"], "critic": c["params"]}

    return unbox(jax.eval_shape(init))


@dataclasses.dataclass
class Trained:
    config: Config
    params: Any
    path: str
    info: dict

    @property
    def models(self):
        from musegan_jax.models import build

        return build(self.config.model, self.config.data.bars, self.config.data.steps)

    def sampler(self):
        from musegan_jax.generate import Sampler

        return Sampler(self.models, self.params)


def load(path) -> Trained:
    from musegan_jax.models import build
    from train_kit.run import RunError, check_params, load_run

    run = load_run(path, system=SYSTEM)
    try:
        cfg = from_dict(Config, run.config)
    except ConfigError as err:
        raise RunError(f"{path}: run.json holds no usable MuseGAN config ({err})") from err
    models = build(cfg.model, cfg.data.bars, cfg.data.steps)
    params = check_params(run.params, abstract_params(models), str(path))
    return Trained(cfg, params, str(path), run.info)

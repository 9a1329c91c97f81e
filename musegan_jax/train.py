"""Training MuseGAN with WGAN-GP through train_kit's one driver (reference §1.3).

    result = train(cfg)   # cfg: musegan_jax.config.Config; -> train_kit.driver.TrainResult

Two parameter groups, "generator" (with the conditional encoder and the BatchNorm statistics in
`extra`) and "critic", each with its own Adam. One train step = gan.critic_updates(step) critic
updates (5; the v1 schedule: 100 for the first 25 and every 500th step), each on its own batch
of real phrases, then one generator update (on one more batch when conditional: the given
track). Steps therefore count generator updates. After the export, gan.eval_samples phrases
are sampled and their EB/UPC/QN/DP/TD go into run.json's metrics.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from musegan_jax import data as data_mod
from train_kit.driver import Task
from train_kit.driver import train as drive

SYSTEM = "musegan"


class MuseGANTask(Task):
    system = SYSTEM

    def setup(self, cfg):
        from music_codecs.errors import UserError

        phrases, info = data_mod.load_phrases(cfg.data.file())
        bars, steps = phrases.shape[1], phrases.shape[2]
        cfg = dataclasses.replace(
            cfg,
            data=dataclasses.replace(cfg.data, path=cfg.data.file(), bars=bars, beat_resolution=steps // 4),
        )
        cfg.model.check_steps(steps)
        if cfg.model.arch == "3d" and bars != 4:
            raise UserError(f"model.arch=3d needs 4-bar phrases, the data have {bars}")
        if len(phrases) < cfg.data.batch_size:
            raise UserError(
                f"{cfg.data.file()}: {len(phrases)} phrases cannot fill data.batch_size={cfg.data.batch_size}"
            )
        return cfg, phrases

    def model(self, cfg):
        from musegan_jax.models import build

        return build(cfg.model, cfg.data.bars, cfg.data.steps)

    def example_batch(self, cfg, data, rows):
        batch = {"critic": {"real": data[:rows, None]}}
        if cfg.model.conditional:
            batch["generator"] = {"real": data[:rows, None]}
        return batch

    def init_params(self, model, batch, rng):
        import jax

        from musegan_jax.wgan import condition_of, sample_latents, to_signed

        real = to_signed(batch["critic"]["real"][:, 0])
        k_g, k_c, k_z = jax.random.split(rng, 3)
        latents = sample_latents(k_z, real.shape[0], model.cfg)
        g = model.generator.init(k_g, latents, False, condition_of(real, model.cfg))
        c = model.critic.init(k_c, real)
        return {"generator": g["params"], "critic": c["params"]}, {"batch_stats": g["batch_stats"]}

    def optimizers(self, cfg):
        return {"generator": cfg.optim, "critic": cfg.critic_optim}

    def updates(self, model, cfg):
        from musegan_jax.wgan import make_losses
        from train_kit.step import Update

        critic_loss, generator_loss = make_losses(model, cfg.gan.gp_weight)
        cond = cfg.model.conditional
        return [
            Update("critic", "critic", critic_loss, batch_key="critic", repeat=True),
            Update(
                "generator", "generator", generator_loss, batch_key="generator" if cond else None, repeat=cond
            ),
        ]

    def pipelines(self, cfg, data, rows, process_index, process_count):
        from train_kit.data import ArrayIterator
        from train_kit.groups import ScheduledBatches

        source = ArrayIterator(
            {"real": data},
            cfg.data.batch_size,
            seed=cfg.data.seed,
            process_index=process_index,
            process_count=process_count,
        )
        counts = {"critic": cfg.gan.critic_updates}
        if cfg.model.conditional:
            counts["generator"] = 1
        return ScheduledBatches(source, counts), None

    def export_params(self, state):
        return {
            "generator": state.params["generator"],
            "batch_stats": state.extra["batch_stats"],
            "critic": state.params["critic"],
        }

    def after_export(self, cfg, data, model, params, result):
        import jax

        from musegan_jax.generate import Sampler
        from musegan_jax.metrics import evaluate

        if not cfg.gan.eval_samples or jax.process_index():
            return {}
        sampler = Sampler(model, params)
        rng = np.random.default_rng(cfg.train.seed)
        condition = None
        if cfg.model.conditional:
            from musegan_jax.config import TRACKS

            track = TRACKS.index(cfg.model.condition_track)
            condition = data[rng.integers(0, len(data), cfg.gan.eval_samples)][..., track]
        rolls = sampler.sample(cfg.gan.eval_samples, seed=cfg.train.seed, condition=condition)
        return {f"sample_{k}": v for k, v in evaluate(rolls, cfg.data.beat_resolution).flat().items()}

    def describe(self, cfg, data, n_params):
        return (
            f"MuseGAN {cfg.model.kind} ({cfg.model.arch}{', conditional' if cfg.model.conditional else ''}): "
            f"{n_params:,} parameters, {len(data)} phrases of {cfg.data.bars} bars x {cfg.data.steps} steps"
        )


def train(cfg, progress=True):
    return drive(MuseGANTask(), cfg, progress=progress)

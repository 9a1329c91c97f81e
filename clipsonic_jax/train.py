"""Train the CLIP-conditioned mel diffusion model on a folder of videos, through the one driver.

    cfg = load_config("configs/clipsonic/tiny.py", ["train.max_steps=100"])
    result = train(cfg)          # train_kit.driver.TrainResult; the run folder is cfg.train.out_dir

ClipSonicTask.setup, which the driver runs after distributed init: (1) the demo inputs a config
asks for (a tiny random CLIP, synthetic clips; data.ensure_demo_inputs); (2) the CLIP folder,
whose projection width becomes unet.cond_dim; (3) frame/mel pairs with cached CLIP image
embeddings (data.prepare); (4) mel statistics of the training split (mels normalised to [-1, 1])
and the condition standardisation. The driver trains (resuming from train.out_dir) and exports
run.json + params/ with the extras mel_stats, cond_mean, cond_scale and clip_dir, which load.py
reads. The evaluation loss uses one fixed key, so it draws the same noise and timesteps each time.
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np

from music_codecs.mel import MelStats
from train_kit import driver


@dataclasses.dataclass
class Pairs:
    mels: np.ndarray  # float32 [N, n_mels, frames], normalised to [-1, 1]
    conds: np.ndarray  # float32 [N, D], standardised CLIP image embeddings
    train_idx: np.ndarray
    eval_idx: np.ndarray
    stats: MelStats
    cond_mean: np.ndarray
    cond_scale: float


class ClipSonicTask(driver.Task):
    system = "clipsonic"

    def setup(self, cfg):
        import jax

        from clipsonic_jax import data
        from model_kit import clip_load

        d = cfg.data
        data.ensure_demo_inputs(d, cfg.mel.sample_rate, seed=cfg.train.seed)
        clip = clip_load.load_clip(d.clip_dir)
        cfg = dataclasses.replace(cfg, unet=dataclasses.replace(cfg.unet, cond_dim=clip.cfg.projection_dim))
        cache = data.prepare(
            d.path,
            d.cache_dir or os.path.join(d.path, ".clipsonic-cache"),
            clip,
            cfg.mel,
            progress=jax.process_index() == 0,
        )
        train_idx, eval_idx = data.split(len(cache.names), d.eval_every_nth)
        stats = MelStats.fit([cache.mels[train_idx]])
        mean, scale = data.cond_transform(cache.embeddings[train_idx], d.standardize_cond)
        conds = ((cache.embeddings - mean) / scale).astype(np.float32)
        return cfg, Pairs(stats.normalize(cache.mels), conds, train_idx, eval_idx, stats, mean, scale)

    def model(self, cfg):
        from clipsonic_jax.unet import UNet

        return UNet(cfg.unet)

    def example_batch(self, cfg, data, rows):
        return {
            "mel": np.zeros((rows, *data.mels.shape[1:]), np.float32),
            "cond": np.zeros((rows, data.conds.shape[1]), np.float32),
        }

    def init_params(self, model, batch, rng):
        from clipsonic_jax.unet import init_params

        return init_params(model, rng, batch["mel"].shape[1:])

    def loss_fn(self, model, cfg):
        from clipsonic_jax.diffusion import make_loss
        from clipsonic_jax.unet import make_apply

        return make_loss(make_apply(model), cfg.diffusion)

    def eval_fn(self, model, cfg):
        import jax

        loss_fn = self.loss_fn(model, cfg)
        return lambda params, batch: loss_fn(params, batch, jax.random.key(1234))

    def pipelines(self, cfg, data, rows, process_index, process_count):
        from clipsonic_jax.data import make_dataset

        size, tr, ev = cfg.data.batch_size, data.train_idx, data.eval_idx
        shard = dict(process_index=process_index, process_count=process_count)
        train_iter = iter(
            make_dataset(data.mels[tr], data.conds[tr], size, seed=cfg.train.seed, **shard).to_iter_dataset()
        )
        if len(ev) < size:  # not one full global batch held out: no evaluation
            return train_iter, None
        return train_iter, lambda: iter(
            make_dataset(data.mels[ev], data.conds[ev], size, train=False, **shard)
        )

    def export(self, cfg, data):
        return {
            "mel_stats": dataclasses.asdict(data.stats),
            "cond_mean": data.cond_mean.tolist(),
            "cond_scale": float(data.cond_scale),
            "clip_dir": os.path.abspath(cfg.data.clip_dir),
        }

    def describe(self, cfg, data, n_params):
        s, ev = data.stats, len(data.eval_idx)
        no_eval = (
            f" (evaluation off: fewer than data.batch_size={cfg.data.batch_size})"
            if 0 < ev < cfg.data.batch_size
            else ""
        )
        return (
            f"CLIPSonic U-Net: {n_params:,} parameters; {len(data.train_idx)} training and {ev} "
            f"evaluation pairs{no_eval}, mels {data.mels.shape[1:]}, CLIP embedding "
            f"{data.conds.shape[1]}-d; log-mel range [{s.low:.2f}, {s.high:.2f}]"
        )


def train(cfg, progress=True):
    return driver.train(ClipSonicTask(), cfg, progress=progress)

"""Train the diffusion prior (CLIP text -> CLIP image embedding) through the one driver.

    cfg = load_config("configs/clipsonic/prior_tiny.py", ["train.max_steps=100"])
    result = train(cfg)        # the run folder (run.json + params/) is cfg.train.out_dir

PriorTask.setup: the demo inputs a config asks for (tiny random CLIP, synthetic clips), the CLIP
folder (its embedding width and context length become net.dim and net.max_text_len), then the
(caption, image) pairs (prior_data.build_pairs). The export records the CLIP folder; prior_load
reads it back. The evaluation loss uses one fixed key (same noise and timesteps each time).
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np

from music_codecs.errors import UserError
from train_kit import driver


class PriorTask(driver.Task):
    system = "clipsonic-prior"

    def setup(self, cfg):
        from clipsonic_jax import data, prior_data
        from model_kit import clip_load

        d = cfg.data
        data.ensure_demo_inputs(d, 16000, seed=cfg.train.seed)
        clip = clip_load.load_clip(d.clip_dir)
        c = clip.cfg
        if c.text.hidden != c.projection_dim:
            raise UserError(
                f"CLIP at {d.clip_dir}: text width {c.text.hidden} differs from its embedding width "
                f"{c.projection_dim}; the DALL-E 2 prior needs them equal (as in OpenAI's ViT-L/14)"
            )
        net = dataclasses.replace(cfg.net, dim=c.projection_dim, max_text_len=c.max_positions)
        cfg = dataclasses.replace(cfg, net=net)
        return cfg, prior_data.build_pairs(d, clip)

    def model(self, cfg):
        from clipsonic_jax.prior_model import PriorNetwork

        return PriorNetwork(cfg.net)

    def example_batch(self, cfg, data, rows):
        d, n = cfg.net.dim, cfg.net.max_text_len
        return {
            "text": np.zeros((rows, d), np.float32),
            "enc": np.zeros((rows, n, data.enc.shape[2]), np.float32),
            "image": np.zeros((rows, d), np.float32),
        }

    def init_params(self, model, batch, rng):
        from clipsonic_jax.prior_model import init_params

        return init_params(model, rng)

    def loss_fn(self, model, cfg):
        from clipsonic_jax.prior_diffusion import make_loss, net_predict

        return make_loss(net_predict(model), cfg.diffusion, cfg.net.dim)

    def eval_fn(self, model, cfg):
        import jax

        from clipsonic_jax.prior_diffusion import make_loss

        # dropout off, fixed noise: comparable across evaluations
        loss = make_loss(lambda p, *a: model.apply({"params": p}, *a[:6]), cfg.diffusion, cfg.net.dim)
        return lambda params, batch: loss(params, batch, jax.random.key(1234))

    def pipelines(self, cfg, data, rows, process_index, process_count):
        from clipsonic_jax.prior_data import make_dataset

        size = cfg.data.batch_size
        shard = dict(process_index=process_index, process_count=process_count)
        train_iter = iter(
            make_dataset(data.arrays(data.train_idx), size, seed=cfg.train.seed, **shard).to_iter_dataset()
        )
        if len(data.eval_idx) < size:
            return train_iter, None
        return train_iter, lambda: iter(make_dataset(data.arrays(data.eval_idx), size, train=False, **shard))

    def export(self, cfg, data):
        return {
            "clip_dir": os.path.abspath(cfg.data.clip_dir),
            "kind": "dalle2",
            "pairs": {"train": int(len(data.train_idx)), "eval": int(len(data.eval_idx))},
        }

    def describe(self, cfg, data, n_params):
        return (
            f"CLIPSonic diffusion prior: {n_params:,} parameters; {len(data.train_idx)} training and "
            f"{len(data.eval_idx)} evaluation (caption, image) pairs from {len(data.files)} files, "
            f"{len(set(data.captions))} distinct captions; CLIP {cfg.net.dim}-d"
        )


def train(cfg, progress=True):
    return driver.train(PriorTask(), cfg, progress=progress)

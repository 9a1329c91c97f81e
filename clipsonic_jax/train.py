"""Train the CLIP-conditioned mel diffusion model on a folder of videos, through train_kit.

    cfg = load_config("configs/clipsonic/tiny.py", ["train.max_steps=100"])
    result = train(cfg)

Steps: (1) the video folder (written with synthetic clips when empty and
data.synthetic_clips > 0); (2) the CLIP checkpoint (a tiny random one is written when
data.make_tiny_clip is set and data.clip_dir has none: demos and tests only); (3) frame/mel pairs
with cached CLIP image embeddings (data.py); (4) mel statistics from the training split, mels
normalised to [-1, 1]; (5) train_kit's sharded step and fit loop (resumes from train.out_dir);
(6) export `<out>/model.msgpack` + `<out>/clipsonic.json` (configs, mel statistics, CLIP folder),
which generate.py reads.
"""
from __future__ import annotations

import dataclasses
import json
import os

import numpy as np

from clipsonic_jax.diffusion import DiffusionConfig
from clipsonic_jax.unet import UNetConfig
from music_codecs.errors import UserError
from music_codecs.mel import MelConfig, MelStats
from train_kit.config import MeshConfig, OptimConfig, TrainConfig, to_dict

RUN_FILE = "clipsonic.json"
PARAMS_FILE = "model.msgpack"


@dataclasses.dataclass(frozen=True)
class DataConfig:
    dir: str = "data/clipsonic/synthetic"
    cache_dir: str = ""              # "": <dir>/.clipsonic-cache
    clip_dir: str = ""               # a HF CLIP folder: config.json + model.safetensors (+ tokenizer)
    make_tiny_clip: bool = False     # write a tiny *random* CLIP at clip_dir if missing (demo only)
    synthetic_clips: int = 0         # > 0: fill an empty `dir` with this many synthetic clips
    batch_size: int = 8
    eval_every_nth: int = 8          # every n-th video is held out for evaluation (0: none)
    standardize_cond: bool = True    # feed (emb - mean) / std of the training image embeddings


@dataclasses.dataclass(frozen=True)
class SampleConfig:
    sampler: str = "ddim"
    steps: int = 50
    guidance: float = 3.0
    griffin_lim_iters: int = 32


@dataclasses.dataclass(frozen=True)
class Config:
    data: DataConfig = DataConfig()
    mel: MelConfig = MelConfig()
    unet: UNetConfig = UNetConfig()
    diffusion: DiffusionConfig = DiffusionConfig()
    sample: SampleConfig = SampleConfig()
    optim: OptimConfig = OptimConfig(lr=1e-4, warmup_steps=500, clip_norm=1.0)
    train: TrainConfig = TrainConfig()
    mesh: MeshConfig = MeshConfig()


def _tuples(d):
    return {k: tuple(v) if isinstance(v, list) else v for k, v in d.items()}


def config_from_dict(d):
    try:
        return Config(data=DataConfig(**d["data"]), mel=MelConfig(**d["mel"]),
                      unet=UNetConfig(**_tuples(d["unet"])),
                      diffusion=DiffusionConfig(**_tuples(d["diffusion"])),
                      sample=SampleConfig(**d["sample"]), optim=OptimConfig(**d["optim"]),
                      train=TrainConfig(**d["train"]), mesh=MeshConfig(**d["mesh"]))
    except (KeyError, TypeError) as err:
        raise UserError(f"not a CLIPSonic run config: {err}") from err


def split(n, every_nth):
    """(train indices, eval indices): every n-th item is held out."""
    idx = np.arange(n)
    if every_nth <= 0 or n < 2:
        return idx, idx[:0]
    held = idx % every_nth == every_nth - 1
    return idx[~held], idx[held]


def ensure_inputs(cfg: Config):
    """The video folder and CLIP folder, made for demos when the config asks; returns LoadedCLIP."""
    from clipsonic_jax import clip_load, data, synthetic
    d = cfg.data
    if not d.clip_dir:
        raise UserError("data.clip_dir is not set: give a Hugging Face CLIP folder (--clip DIR)")
    if not os.path.exists(os.path.join(d.clip_dir, "config.json")) and d.make_tiny_clip:
        print(f"writing a tiny random CLIP to {d.clip_dir} (demo only: it knows nothing)")
        clip_load.write_tiny_clip(d.clip_dir, **clip_load.DEMO_CLIP)
    has_videos = os.path.isdir(d.dir) and data.list_videos(d.dir)
    if not has_videos and d.synthetic_clips > 0:
        print(f"writing {d.synthetic_clips} synthetic clips to {d.dir}")
        synthetic.write_dataset(d.dir, d.synthetic_clips, seed=cfg.train.seed,
                                sample_rate=cfg.mel.sample_rate, progress=True)
    return clip_load.load_clip(d.clip_dir)


def make_apply(net):
    def apply_fn(params, x, t, cond, keep):
        return net.apply({"params": params}, x, t, cond, keep)
    return apply_fn


def cond_transform(embeddings, enabled):
    """(mean [D], scale) so that (e - mean) / scale has unit variance over the training set.

    Embeddings of one dataset share a large common direction (random or not, CLIP's image
    embeddings have pairwise cosines far above 0); removing it lets a small network see what
    differs between clips. The same map is applied to image or text queries at generation.
    """
    e = np.asarray(embeddings, np.float64)
    if not enabled:
        return np.zeros(e.shape[1], np.float32), 1.0
    mean = e.mean(0)
    return mean.astype(np.float32), float(max((e - mean).std(), 1e-6))


def write_run(out_dir, cfg: Config, stats: MelStats, params, cond_mean=None, cond_scale=1.0):
    import flax
    import jax
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, PARAMS_FILE), "wb") as f:
        f.write(flax.serialization.to_bytes(jax.device_get(params)))
    meta = {"config": to_dict(cfg), "mel_stats": dataclasses.asdict(stats),
            "clip_dir": os.path.abspath(cfg.data.clip_dir),
            "cond_mean": None if cond_mean is None else np.asarray(cond_mean).tolist(),
            "cond_scale": float(cond_scale)}
    with open(os.path.join(out_dir, RUN_FILE), "w") as f:
        json.dump(meta, f, indent=1)


def train(cfg: Config):
    import jax
    import jax.numpy as jnp

    from clipsonic_jax import data
    from clipsonic_jax.diffusion import make_loss
    from clipsonic_jax.unet import UNet
    from train_kit import fit, mesh as tk_mesh, optim, sharding, step

    clip = ensure_inputs(cfg)
    cfg = dataclasses.replace(cfg, unet=dataclasses.replace(cfg.unet, cond_dim=clip.cfg.projection_dim))
    cache_dir = cfg.data.cache_dir or os.path.join(cfg.data.dir, ".clipsonic-cache")
    cache = data.prepare(cfg.data.dir, cache_dir, clip, cfg.mel)
    train_idx, eval_idx = split(len(cache.names), cfg.data.eval_every_nth)
    stats = MelStats.fit([cache.mels[train_idx]])
    mels = stats.normalize(cache.mels)
    cond_mean, cond_scale = cond_transform(cache.embeddings[train_idx], cfg.data.standardize_cond)
    conds = ((cache.embeddings - cond_mean) / cond_scale).astype(np.float32)
    print(f"{len(train_idx)} training and {len(eval_idx)} evaluation pairs, mels {mels.shape[1:]}, "
          f"CLIP embedding {cache.embeddings.shape[1]}-d; log-mel range [{stats.low:.2f}, {stats.high:.2f}]")

    tk_mesh.maybe_initialize_distributed(cfg.mesh)
    m = tk_mesh.make_mesh(cfg.mesh)
    pc, pi = jax.process_count(), jax.process_index()
    if cfg.data.batch_size % pc:
        raise UserError(f"data.batch_size={cfg.data.batch_size} must divide over {pc} processes")
    per_process = cfg.data.batch_size // pc
    net = UNet(cfg.unet)
    apply_fn = make_apply(net)
    example = (jnp.zeros((1, *mels.shape[1:])), jnp.zeros((1,), jnp.int32),
               jnp.zeros((1, cache.embeddings.shape[1])), jnp.ones((1,), bool))
    tx, schedule = optim.make_optimizer(cfg.optim)
    state, shardings = sharding.create_train_state(lambda rng: net.init(rng, *example)["params"], tx, m,
                                                   seed=cfg.train.seed)
    n_params = sum(int(np.prod(x.shape)) for x in jax.tree.leaves(state.params))
    print(f"U-Net: {n_params:,} parameters; mesh {dict(m.shape)}; batch {cfg.data.batch_size}")
    loss_fn = make_loss(apply_fn, cfg.diffusion)
    train_step = step.make_train_step(loss_fn, tx, shardings, tk_mesh.batch_sharding(m),
                                      compute_dtype=optim.compute_dtype(cfg.optim))
    eval_step = eval_data = None
    if len(eval_idx) >= per_process:
        # A fixed key: the evaluation loss uses the same noise and timesteps every time.
        eval_step = step.make_eval_step(lambda p, b: loss_fn(p, b, jax.random.key(1234)),
                                        shardings.params, tk_mesh.batch_sharding(m))
        eval_data = lambda: iter(data.make_dataset(mels[eval_idx], conds[eval_idx], per_process,
                                                   train=False, shard_index=pi, shard_count=pc))
    train_iter = iter(data.make_dataset(mels[train_idx], conds[train_idx], per_process,
                                        seed=cfg.train.seed, shard_index=pi,
                                        shard_count=pc).to_iter_dataset())
    result = fit.fit(state, train_step, train_iter, cfg.train, mesh=m, eval_step=eval_step,
                     eval_data=eval_data, lr_fn=lambda s: optim.learning_rate(schedule, s, cfg.optim))
    if cfg.train.out_dir:
        params = result.state.params
        if jax.process_count() > 1:
            from jax.experimental import multihost_utils
            params = multihost_utils.process_allgather(params)
        if jax.process_index() == 0:
            write_run(cfg.train.out_dir, cfg, stats, params, cond_mean, cond_scale)
    return result

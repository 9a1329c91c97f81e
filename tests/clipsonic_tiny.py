"""A few-step CLIPSonic training on data made under tmp_path (no network), for the tests and the
multi-host check:

    path, overrides = tiny_training(tmp_path)
    result = clipsonic_jax.train.train(train_kit.config.load_config(path, overrides))

tiny_training writes 8 synthetic clips (once, even when processes call it side by side) and
touches no JAX backend, so a multi-host worker may call it before jax.distributed is initialised;
the tiny random CLIP is written by training's own setup (data.make_tiny_clip), race-free too.
"""

from __future__ import annotations

from pathlib import Path

CONFIG = Path(__file__).resolve().parent.parent / "configs" / "clipsonic" / "tiny.py"
CLIPS = 8


def tiny_training(tmp_path) -> tuple[str, list[str]]:
    from clipsonic_jax import data, synthetic

    tmp = Path(tmp_path)
    videos = tmp / "videos"
    if not (videos.is_dir() and data.list_videos(videos)):  # workers may call this side by side
        data.build_in_place(videos, lambda tmp: synthetic.write_dataset(tmp, CLIPS, seed=0, seconds=1.5))
    return str(CONFIG), [
        f"data.path={videos}",
        f"data.clip_dir={tmp / 'clip'}",
        "data.make_tiny_clip=true",
        "data.synthetic_clips=0",
        f"data.cache_dir={tmp / 'cache'}",
        "data.batch_size=8",
        "data.eval_every_nth=0",
        "unet.channels=8",
        "unet.groups=4",
        "unet.channel_mults=(1,)",
        "unet.attention_levels=()",
        "optim.warmup_steps=1",
        "optim.decay_steps=3",
        "train.max_steps=3",
        "train.log_every=1",
        "train.eval_every=0",
        f"train.out_dir={tmp / 'run'}",
    ]

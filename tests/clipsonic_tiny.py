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


def dalle2_prior_module():
    """dalle2_pytorch's model module for parity tests, or None (with the reason) when torch or
    dalle2-pytorch is absent.

    dalle2-pytorch imports its image side (torchvision, kornia, x-clip, CoCa, resize-right, its
    VQGAN and tokenizer) at the top of the module; none of it is used by DiffusionPriorNetwork
    or DiffusionPrior without a CLIP. torchvision from PyPI does not import beside our pinned
    torch, so `make test` installs dalle2-pytorch without dependencies and those names are
    filled with empty placeholder modules here, only for this import (sys.modules is restored).
    """
    import importlib
    import importlib.util
    import os
    import sys
    import types

    try:
        import einops  # noqa: F401
        import rotary_embedding_torch  # noqa: F401
        import torch  # noqa: F401
    except ImportError as err:
        return None, f"needs torch, einops and rotary-embedding-torch (make test installs them): {err}"
    spec = importlib.util.find_spec("dalle2_pytorch")
    if spec is None:
        return None, "needs dalle2-pytorch (make test installs it with --no-deps)"

    class Unused:
        def __init__(self, *args, **kwargs):
            raise RuntimeError("placeholder: not needed by the diffusion prior")

    placeholders = {
        "torchvision": {},
        "torchvision.transforms": {},
        "kornia": {},
        "kornia.filters": {"gaussian_blur2d": None},
        "kornia.augmentation": {},
        "x_clip": {"CLIP": Unused},
        "coca_pytorch": {"CoCa": Unused},
        "resize_right": {"resize": None},
        "dalle2_pytorch.tokenizer": {"tokenizer": None},
        "dalle2_pytorch.vqgan_vae": {"NullVQGanVAE": Unused, "VQGanVAE": Unused},
    }
    saved = {
        n: sys.modules.get(n) for n in [*placeholders, "dalle2_pytorch", "dalle2_pytorch.dalle2_pytorch"]
    }
    try:
        package = types.ModuleType("dalle2_pytorch")  # skips the package __init__ (trainer, CLIP)
        package.__path__ = [os.path.dirname(spec.origin)]
        sys.modules["dalle2_pytorch"] = package
        for name, attrs in placeholders.items():
            module = types.ModuleType(name)
            module.__dict__.update(attrs)
            sys.modules[name] = module
        return importlib.import_module("dalle2_pytorch.dalle2_pytorch"), ""
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module

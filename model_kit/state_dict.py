"""PyTorch-layout weight files as {key: NumPy array}, and the one check every importer makes.

    sd = read_state_dict("bigvgan_generator.pt")     # .pt/.pth/g_* (needs torch), .safetensors, .npz
    check_keys(expected_shapes, sd, "BigVGAN generator", ignore=("filter",))
        -> one UserError naming every missing, unexpected and mis-shaped key

Torch pickles need torch only to be read (`weights_only=True`, never arbitrary code); converting
a file once to .safetensors or .npz with the same keys lets a machine without torch load it.
"""

from __future__ import annotations

import os

import numpy as np

from music_codecs.errors import UserError

WRAPPERS = ("generator", "state_dict", "model")  # {"generator": sd} in BigVGAN / HiFi-GAN g_* files


def _from_torch(path):
    try:
        import torch
    except ImportError as err:
        raise UserError(
            f"{path}: a PyTorch checkpoint needs torch to read (pip install torch), "
            "or convert it once to .safetensors/.npz with the same keys"
        ) from err
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # a corrupt or non-torch file: torch raises many types
        raise UserError(f"{path}: cannot read as a PyTorch checkpoint: {err}") from err
    for key in WRAPPERS:
        if isinstance(obj, dict) and key in obj and isinstance(obj[key], dict):
            obj = obj[key]
            break
    if not isinstance(obj, dict):
        raise UserError(f"{path}: expected a state dict, got {type(obj).__name__}")
    return {k: v.detach().float().numpy() if v.is_floating_point() else v.numpy() for k, v in obj.items()}


def read_state_dict(path) -> dict:
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise UserError(f"{path}: no such weight file")
    if path.endswith(".safetensors"):
        from safetensors.numpy import load_file

        try:
            return dict(load_file(path))
        except Exception as err:
            raise UserError(f"{path}: cannot read safetensors: {err}") from err
    if path.endswith(".npz"):
        try:
            with np.load(path) as z:
                return {k: z[k] for k in z.files}
        except (OSError, ValueError) as err:
            raise UserError(f"{path}: cannot read npz: {err}") from err
    return _from_torch(path)


def check_keys(expected: dict, given: dict, what: str, ignore=()):
    """expected: {key: shape}. Keys ending in any of `ignore` (buffers we recompute) are skipped."""
    skip = lambda k: any(k.endswith(s) for s in ignore)  # noqa: E731
    given_keys = {k for k in given if not skip(k)}
    missing = sorted(set(expected) - given_keys)
    extra = sorted(given_keys - set(expected))
    shaped = sorted(
        f"{k} {tuple(np.shape(given[k]))} != {tuple(expected[k])}"
        for k in set(expected) & given_keys
        if tuple(np.shape(given[k])) != tuple(expected[k])
    )
    if missing or extra or shaped:
        parts = []
        if missing:
            parts.append(f"missing {', '.join(missing)}")
        if extra:
            parts.append(f"unexpected {', '.join(extra)}")
        if shaped:
            parts.append(f"mis-shaped {', '.join(shaped)}")
        raise UserError(f"{what}: weights do not match the config: {'; '.join(parts)}")

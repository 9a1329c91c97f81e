"""CLIPSonic: text-to-audio from unlabeled videos via CLIP-conditioned mel diffusion (Dong et al., WASPAA 2023), in JAX/Flax.

model = clipsonic_jax.load("synthetic-tiny")   # a shipped model (clipsonic_jax.pretrained()) or a run folder
sounds = model.generate(text=["a red shape"])  # or image=...; see clipsonic_jax.api
"""

# The submodule `clipsonic_jax.load` first, so that `load` below (the function) is not replaced by the
# module when something imports the submodule later.
import clipsonic_jax.load  # noqa: F401, I001
from clipsonic_jax.api import CLIPSonic, Sound, load, pretrained

__all__ = ["CLIPSonic", "Sound", "load", "pretrained"]

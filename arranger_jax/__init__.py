"""Arranger: per-note part separation and automatic instrumentation (Dong et al., ISMIR 2021), in JAX/Flax.

model = arranger_jax.load("bach-bilstm")   # a shipped model (arranger_jax.pretrained()) or a run folder
arranged = model.instrument("solo.mid")    # see arranger_jax.api
"""

# The submodule `arranger_jax.load` first, so that `load` below (the function) is not replaced by the
# module when something imports the submodule later.
import arranger_jax.load  # noqa: F401, I001
from arranger_jax.api import Arranger, load, pretrained

__all__ = ["Arranger", "load", "pretrained"]

"""MMT, the Multitrack Music Transformer (Dong et al., ICASSP 2023), in JAX/Flax.

model = mmt_jax.load("music21")   # a shipped model (mmt_jax.pretrained() lists them) or a run folder
pieces = model.generate(mode="unconditional", num_samples=2, seed=0)   # see mmt_jax.api
"""

# The submodule `mmt_jax.load` first, so that `load` below (the function) is not replaced by the
# module when something imports the submodule later.
import mmt_jax.load  # noqa: F401, I001
from mmt_jax.api import MMT, load, pretrained

__all__ = ["MMT", "load", "pretrained"]

"""MuseGAN: multitrack piano-roll generation with GANs (Dong et al., AAAI 2018), in JAX/Flax.

model = musegan_jax.load("bach-hybrid")       # a shipped model (musegan_jax.pretrained()) or a run folder
pieces = model.generate(num_samples=2)        # see musegan_jax.api
"""

# The submodule `musegan_jax.load` first, so that `load` below (the function) is not replaced by the
# module when something imports the submodule later.
import musegan_jax.load  # noqa: F401, I001
from musegan_jax.api import MuseGAN, load, pretrained

__all__ = ["MuseGAN", "load", "pretrained"]

"""MuseGAN: multitrack piano-roll generation with GANs (Dong et al., AAAI 2018), in JAX/Flax."""

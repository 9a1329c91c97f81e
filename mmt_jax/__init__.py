"""MMT, the Multitrack Music Transformer (Dong et al., ICASSP 2023), in JAX/Flax."""

"""Arranger: per-note part separation and automatic instrumentation (Dong et al., ISMIR 2021), in JAX/Flax."""

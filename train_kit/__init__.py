"""Shared JAX training machinery: mesh and sharding rules, the sharded train step,
checkpoints, the fit loop, metric logging and progress."""

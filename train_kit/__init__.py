"""Shared JAX training machinery: mesh and sharding rules, the sharded train step,
checkpoints, the fit loop, metric logging and progress.

Modules (import them directly; this package imports nothing heavy, so CLIs stay fast):
config (configs and overrides), mesh (device mesh, global batches), sharding (logical rules,
sharded init), optim (optax factory, schedules), state (TrainState), step (jitted train/eval
steps), checkpoint (orbax wrapper), fit (the loop), metric_log (JSONL + TensorBoard),
data (checkpointable NumPy iterator), toy (tiny models for tests). See train_kit/README.md.
"""

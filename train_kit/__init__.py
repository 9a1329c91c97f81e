"""Shared JAX training machinery: the one experiment driver and run-folder format, mesh and
sharding rules, the sharded train step, checkpoints, the fit loop, metric logging and progress.

Modules (import them directly; this package imports nothing heavy, so CLIs stay fast):
driver (Task and train: every system's training), run (run.json + params/: save, load),
config (configs, overrides, from_dict), mesh (device mesh, global batches), sharding (logical rules,
sharded init), optim (optax factory, schedules), state (TrainState), step (jitted train/eval
steps), checkpoint (orbax wrapper), fit (the loop), metric_log (JSONL + TensorBoard),
data (checkpointable NumPy iterator), toy (tiny models for tests). See train_kit/README.md.
"""

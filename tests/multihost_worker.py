"""One process of a training job on simulated CPU devices, for the multi-process tests.

    python tests/multihost_worker.py SYSTEM CONFIG OUT [KEY=VALUE ...]
        SYSTEM: toy | mmt | arranger | clipsonic (the module whose train(cfg) runs the job);
        CONFIG: a config file, or "-" for the toy's built-in ToyConfig (trying the driver by hand).
    env DEVICES=N                      simulated CPU devices in this process (default 8)
    env TRAIN_KIT_NUM_PROCESSES=P TRAIN_KIT_PROCESS_ID=i JAX_COORDINATOR_ADDRESS=host:port
                                       with the override mesh.multihost=true: join a P-process job
    env INIT_ONLY=1                    stop right after distributed initialisation and print
                                       whether the JAX backend had been touched before it

Prints one JSON line at the end: {"process": i, "processes": P, "devices": D, "status": ...}.
The per-step losses are in OUT/metrics.jsonl (written by process 0).
"""

import json
import os
import sys

os.environ["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={os.environ.get('DEVICES', '8')}"
os.environ["JAX_PLATFORMS"] = "cpu"

SYSTEMS = {
    "toy": "train_kit.toy",
    "mmt": "mmt_jax.train",
    "arranger": "arranger_jax.train",
    "clipsonic": "clipsonic_jax.train",
}


def main(system, config, out, *overrides):
    import importlib

    import jax

    from train_kit.config import apply_overrides, load_config

    jax.config.update("jax_disable_most_optimizations", True)  # tiny models: compile time dominates
    overrides = [*overrides, f"train.out_dir={out}"]
    if os.environ.get("INIT_ONLY"):
        from jax._src import xla_bridge

        def stop(*args, **kwargs):  # the driver's first act must be this call, on a fresh backend
            print(json.dumps({"backend_touched_before_init": xla_bridge.backends_are_initialized()}))
            sys.exit(0)

        jax.distributed.initialize = stop
    module = importlib.import_module(SYSTEMS[system])
    if system == "toy":
        from train_kit import driver

        cfg = (
            apply_overrides(module.ToyConfig(), overrides)
            if config == "-"
            else load_config(config, overrides)
        )
        result = driver.train(module.ToyTask(), cfg, progress=False)
    else:
        result = module.train(load_config(config, overrides), progress=False)
    print(
        json.dumps(
            {
                "process": jax.process_index(),
                "processes": jax.process_count(),
                "devices": jax.device_count(),
                "status": result.status,
                "step": result.step,
            }
        )
    )


if __name__ == "__main__":
    main(*sys.argv[1:])

"""Test setup: 8 simulated CPU devices and fast compiles, fixed before JAX initialises."""

import os

os.environ["XLA_FLAGS"] = (
    os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=8"
).strip()
os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ.setdefault("MPLBACKEND", "Agg")

import jax  # noqa: E402

jax.config.update("jax_platforms", "cpu")
jax.config.update("jax_num_cpu_devices", 8)
# Tiny models: compile time dominates, so skip most XLA optimisation passes.
jax.config.update("jax_disable_most_optimizations", True)

from hypothesis import settings  # noqa: E402

settings.register_profile("project", deadline=None, max_examples=50, derandomize=True)
settings.load_profile("project")


def pytest_collection_modifyitems(config, items):
    """The multi-process tests first: a slow file of subprocesses, so that `pytest -n 2 --dist loadfile`
    hands it out at the start instead of leaving one worker busy with it at the end."""
    items.sort(key=lambda item: 0 if item.nodeid.startswith("tests/test_multihost.py") else 1)

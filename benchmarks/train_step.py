"""Train-step throughput: the sharded train_kit step on all local devices vs a plain one-device jit.

    python benchmarks/train_step.py                       # accelerator or CPU as found
    python benchmarks/train_step.py --cpu-devices 8       # simulate 8 CPU devices
    python benchmarks/train_step.py --mesh 4,2,1 --batch 32 --length 128 --steps 20

Both rows train the same toy transformer (train_kit.toy.ToyTransformer) with the same loss, Adam
and clipping on the same batches. "sharded" is train_kit.step.make_train_step over a
(data, fsdp, tensor) mesh with parameters born sharded; "baseline" is `jax.jit(step,
donate_argnums=0)` with everything on device 0. Timing: warm-up steps (compile), then
`--steps` steps with at most 2 in flight (as in train_kit.fit) and a final block_until_ready.
Prints a table and writes JSON (--json).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--cpu-devices",
        type=int,
        default=0,
        help="simulate this many CPU devices (sets XLA_FLAGS before JAX starts)",
    )
    p.add_argument("--mesh", default="-1,1,1", help="data,fsdp,tensor sizes (-1: the rest)")
    p.add_argument("--batch", type=int, default=16, help="global batch (sequences)")
    p.add_argument("--length", type=int, default=128)
    p.add_argument("--vocab", type=int, default=512)
    p.add_argument("--embed", type=int, default=128)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--mlp", type=int, default=512)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--bf16", action="store_true", help="mixed precision (bf16 compute)")
    p.add_argument("--json", default="/tmp/train_step_benchmark.json")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if args.cpu_devices:
        os.environ["XLA_FLAGS"] = (
            os.environ.get("XLA_FLAGS", "") + f" --xla_force_host_platform_device_count={args.cpu_devices}"
        )
    import jax
    import numpy as np
    import optax
    from tqdm import tqdm

    from train_kit import mesh as tk_mesh
    from train_kit import optim, sharding, step, toy
    from train_kit.config import MeshConfig, OptimConfig

    model = toy.ToyTransformer(
        vocab=args.vocab, embed=args.embed, heads=args.heads, mlp=args.mlp, layers=args.layers
    )
    ocfg = OptimConfig(lr=1e-3, clip_norm=1.0, mixed_precision=args.bf16)
    tx, _ = optim.make_optimizer(ocfg)
    loss_fn = toy.lm_loss(model)
    data = toy.random_tokens(args.batch, args.length + 1, args.vocab, seed=0)
    init = lambda rng: model.init(rng, data["tokens"][:2, :-1])["params"]  # noqa: E731
    tokens_per_step = args.batch * args.length

    def timed(name, run_step, state, batch, devices):
        for _ in tqdm(range(args.warmup), desc=f"{name}: compile + warm-up", leave=False):
            state, metrics = run_step(state, batch)
        jax.block_until_ready(state)
        start, in_flight = time.perf_counter(), []
        for _ in range(args.steps):
            state, metrics = run_step(state, batch)
            in_flight.append(metrics["loss"])
            if len(in_flight) > 2:  # as fit does: bounded run-ahead (CPU collectives need it)
                in_flight.pop(0).block_until_ready()
        jax.block_until_ready((state, metrics))
        seconds = time.perf_counter() - start
        return {
            "name": name,
            "devices": devices,
            "steps_per_s": args.steps / seconds,
            "tokens_per_s": args.steps * tokens_per_step / seconds,
            "ms_per_step": 1e3 * seconds / args.steps,
            "final_loss": float(metrics["loss"]),
        }

    # Sharded: all local devices.
    mesh = tk_mesh.make_mesh(MeshConfig(*map(int, args.mesh.split(","))))
    state, shardings = sharding.create_train_state(init, tx, mesh, seed=0)
    sharded_step = step.make_train_step(
        loss_fn, tx, shardings, tk_mesh.batch_sharding(mesh), compute_dtype=optim.compute_dtype(ocfg)
    )
    rows = [
        timed(
            "sharded " + "x".join(map(str, mesh.devices.shape)),
            sharded_step,
            state,
            tk_mesh.global_batch(data, mesh),
            mesh.size,
        )
    ]
    del state

    # Baseline: a plain jit on one device, same math.
    device = jax.devices()[0]

    dtype = optim.compute_dtype(ocfg)

    def plain_step(state, batch):
        rng = jax.random.fold_in(jax.random.wrap_key_data(state.rng), state.step)
        compute = lambda p: loss_fn(optim.cast_floating(p, dtype), batch, rng)  # noqa: E731
        (loss, _), grads = jax.value_and_grad(compute, has_aux=True)(state.params)
        updates, opt_state = tx.update(grads, state.opt_state, state.params)
        return (
            state.replace(
                step=state.step + 1, params=optax.apply_updates(state.params, updates), opt_state=opt_state
            ),
            {"loss": loss},
        )

    one = tk_mesh.make_mesh(MeshConfig(1, 1, 1), devices=[device])
    state, _ = sharding.create_train_state(init, tx, one, seed=0)
    rows.append(
        timed(
            "baseline jit (1 device)",
            jax.jit(plain_step, donate_argnums=0),
            state,
            jax.device_put(data, device),
            1,
        )
    )

    n_params = sum(int(np.prod(x.shape)) for x in jax.tree.leaves(jax.eval_shape(init, jax.random.key(0))))
    info = {
        "jax": jax.__version__,
        "backend": jax.default_backend(),
        "device_kind": device.device_kind,
        "local_devices": jax.local_device_count(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "params": n_params,
        "tokens_per_step": tokens_per_step,
        **{k: v for k, v in vars(args).items() if k != "json"},
    }
    print(
        f"\ntoy transformer: {n_params:,} params, batch {args.batch} x {args.length} tokens, "
        f"{info['backend']} ({info['device_kind']}), jax {jax.__version__}"
    )
    print(f"{'step':<28}{'devices':>8}{'steps/s':>10}{'tokens/s':>12}{'ms/step':>10}{'loss':>9}")
    for r in rows:
        print(
            f"{r['name']:<28}{r['devices']:>8}{r['steps_per_s']:>10.2f}{r['tokens_per_s']:>12,.0f}"
            f"{r['ms_per_step']:>10.1f}{r['final_loss']:>9.4f}"
        )
    speedup = rows[0]["steps_per_s"] / rows[1]["steps_per_s"]
    print(f"speed-up of the sharded step over the baseline: {speedup:.2f}x")
    with open(args.json, "w") as f:
        json.dump({"info": info, "rows": rows}, f, indent=2)
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

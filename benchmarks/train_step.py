"""Train-step throughput: the sharded train_kit step on all local devices vs a plain one-device jit.

    python benchmarks/train_step.py                       # accelerator or CPU as found
    python benchmarks/train_step.py --cpu-devices 8       # simulate 8 CPU devices
    python benchmarks/train_step.py --mesh 4,2,1 --batch 32 --length 128 --steps 20

--model mmt: the MMT train step (paper configuration by default: 19.9 M parameters, batch 8 x
1,024 events, Adam + clipping, dropout on) as today's (einsum attention, float32), the fast
one (--attention: jax.nn.dot_product_attention, cuDNN's kernel on GPU, or on CPU
mmt_jax.chunked_attention; bfloat16 compute on float32 master weights, --remat policy) and
the PyTorch reference (benchmarks/torch_mmt.py: x-transformers 0.25.9, same weights, float32,
--torch-threads) in one run. Before timing, the losses of all of them on one batch (dropout
off) are compared: float32 paths equal to ~1e-5, bfloat16 within 1 %. Reported: steps/s,
tokens/s and model FLOPs utilisation (PaLM's estimate, 6 N + 12 depth x length x dim
per token, over the device's peak: known GPUs, or --peak-tflops).

    python benchmarks/train_step.py --model mmt --torch                      # paper size
    python benchmarks/train_step.py --model mmt --mmt-size tiny --batch 4 --length 64 --steps 3

Both rows of the toy mode train the same toy transformer (train_kit.toy.ToyTransformer) with the same loss, Adam
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
    p.add_argument("--model", default="toy", choices=("toy", "mmt"), help="toy: the sharded-step check")
    p.add_argument("--mmt-size", default="paper", choices=("paper", "tiny"))
    p.add_argument("--remat", default="none", choices=("none", "full", "dots", "dots_no_batch"))
    p.add_argument(
        "--attention",
        default="auto",
        help="the fast step's attention, or a comma list of them for one fast row each: dot_product, "
        "chunked, auto (chunked on CPU, dot_product, i.e. cuDNN, elsewhere)",
    )
    p.add_argument("--torch", action="store_true", help="mmt: also time the PyTorch reference (bench extra)")
    p.add_argument("--torch-threads", type=int, default=1)
    p.add_argument("--torch-device", default="cpu", help="cpu or cuda")
    p.add_argument(
        "--peak-tflops", type=float, default=None, help="device peak for MFU (default: known GPUs)"
    )
    p.add_argument("--json", default="/tmp/train_step_benchmark.json")
    return p.parse_args(argv)


PEAK_BF16_TFLOPS = {"H200": 989.0, "H100": 989.0, "A100": 312.0, "L4": 121.0, "A10": 125.0}  # dense


def peak_flops(device_kind, given):
    if given:
        return given * 1e12
    for name, tflops in PEAK_BF16_TFLOPS.items():
        if name in device_kind:
            return tflops * 1e12
    return None


def mmt_flops_per_token(cfg):
    """PaLM's training estimate: 6 x (non-embedding parameters) + 12 x depth x length x dim."""
    dense = cfg.depth * (4 * cfg.dim * cfg.inner_dim + 2 * cfg.dim * cfg.dim * cfg.ff_mult)
    heads = cfg.dim * sum(cfg.vocab_sizes)
    return 6 * (dense + heads) + 12 * cfg.depth * cfg.max_seq_len * cfg.inner_dim


def mmt_main(args):
    import dataclasses

    import jax
    import jax.numpy as jnp
    import numpy as np
    import optax
    from flax import linen as nn

    from mmt_jax.loss import make_eval_fn, make_loss_fn
    from mmt_jax.model import MMTConfig, MusicTransformer

    base = MMTConfig() if args.mmt_size == "paper" else MMTConfig.tiny()
    base = dataclasses.replace(base, max_seq_len=max(base.max_seq_len, args.length + 1))
    length = args.length + 1  # inputs of `length` events predict the next ones
    auto = "chunked" if jax.default_backend() == "cpu" else "dot_product"
    attentions = [auto if a == "auto" else a for a in args.attention.split(",")]
    if not set(attentions) <= {"dot_product", "chunked"}:
        sys.exit(f"--attention: expected dot_product, chunked or auto, got {args.attention!r}")
    variants = {"today (einsum, float32)": base}
    for attention in attentions:
        variants[f"fast ({attention}, bfloat16, remat {args.remat})"] = dataclasses.replace(
            base, attention=attention, dtype="bfloat16", remat=args.remat
        )
    rng = np.random.default_rng(0)
    codes = np.stack([rng.integers(1, n, (args.batch, length)) for n in base.vocab_sizes], -1).astype(
        np.int32
    )
    batch = {"codes": jnp.asarray(codes), "mask": jnp.ones((args.batch, length), bool)}
    params = nn.meta.unbox(jax.jit(MusicTransformer(base).init)(jax.random.key(0), batch["codes"][:1, :8]))
    params = params["params"]
    tx = optax.chain(optax.clip_by_global_norm(1.0), optax.adam(5e-4))
    tokens = args.batch * args.length
    device = jax.devices()[0]
    peak = peak_flops(device.device_kind, args.peak_tflops)
    flops = mmt_flops_per_token(dataclasses.replace(base, max_seq_len=args.length)) * tokens

    losses, rows = {}, []
    for name, cfg in variants.items():
        model = MusicTransformer(cfg)
        losses[name] = float(jax.jit(make_eval_fn(model, mask_padding=False))(params, batch)[0])
        loss_fn = make_loss_fn(model, mask_padding=False)

        def train_step(state, batch, loss_fn=loss_fn):
            p, opt, step = state
            (loss, _), grads = jax.value_and_grad(loss_fn, has_aux=True)(p, batch, jax.random.key(step))
            updates, opt = tx.update(grads, opt, p)
            return (optax.apply_updates(p, updates), opt, step + 1), loss

        run = jax.jit(train_step, donate_argnums=0)
        state = (jax.tree.map(jnp.copy, params), tx.init(params), jnp.int32(0))
        for _ in range(args.warmup):
            state, loss = run(state, batch)
        jax.block_until_ready(state)
        start = time.perf_counter()
        for _ in range(args.steps):
            state, loss = run(state, batch)
        jax.block_until_ready(state)
        rows.append(_mmt_row(name, (time.perf_counter() - start) / args.steps, tokens, flops, peak, loss))
        del state

    if args.torch:
        import torch
        import torch_mmt

        torch.set_num_threads(args.torch_threads)
        dev = args.torch_device
        net = torch_mmt.from_params(params, base, dev)
        atol = 1e-4 if dev == "cpu" else 5e-2  # TF32 products on GPU
        worst = torch_mmt.check_logits(net, params, base, length=min(16, args.length), atol=atol)
        t_codes = torch.from_numpy(codes).long().to(dev)
        t_mask = torch.ones((args.batch, length), dtype=torch.bool, device=dev)
        with torch.no_grad():
            losses["PyTorch reference (float32)"] = float(net.loss(t_codes, t_mask))
        net.train()
        opt = torch.optim.Adam(net.parameters(), lr=5e-4)

        def torch_step():
            opt.zero_grad()
            loss = net.loss(t_codes, t_mask)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
            opt.step()
            return loss.item()

        for _ in range(min(args.warmup, 1)):
            torch_step()
        start = time.perf_counter()
        for _ in range(args.steps):
            loss = torch_step()  # float(loss) synchronises
        name = f"PyTorch reference ({dev}, {torch.get_num_threads()} thread(s))"
        rows.append(_mmt_row(name, (time.perf_counter() - start) / args.steps, tokens, flops, peak, loss))
        rows[-1]["logits_max_diff"] = worst

    ref = losses["today (einsum, float32)"]
    for name, value in losses.items():
        tol = (
            1e-2 * abs(ref)
            if "bfloat16" in name or jax.default_backend() != "cpu"
            else 1e-4 * max(abs(ref), 1.0)
        )
        assert abs(value - ref) <= tol, f"loss of {name} {value:.6f} differs from today's {ref:.6f}"
    info = {
        "jax": jax.__version__,
        "backend": jax.default_backend(),
        "device_kind": device.device_kind,
        "cpu_count": os.cpu_count(),
        "model": args.mmt_size,
        "batch": args.batch,
        "length": args.length,
        "flops_per_step": flops,
        "peak_flops": peak,
        "losses_dropout_off": losses,
        **({"torch_threads": args.torch_threads} if args.torch else {}),
    }
    print(
        f"\nMMT train step: {args.mmt_size} model, batch {args.batch} x {args.length} events, Adam + clip, "
        f"dropout {base.dropout}; {info['backend']} ({device.device_kind}), jax {jax.__version__}"
    )
    print("losses on one batch, dropout off: " + ", ".join(f"{k} {v:.5f}" for k, v in losses.items()))
    print(f"{'step':<44}{'steps/s':>9}{'tokens/s':>11}{'ms/step':>10}{'MFU':>8}")
    for r in rows:
        mfu = f"{100 * r['mfu']:.1f}%" if r["mfu"] is not None else "n/a"
        print(
            f"{r['name']:<44}{r['steps_per_s']:>9.3f}{r['tokens_per_s']:>11,.0f}{r['ms_per_step']:>10.1f}{mfu:>8}"
        )
    for r in rows[1 : len(variants)]:
        print(f"today / {r['name']}: {rows[0]['ms_per_step'] / r['ms_per_step']:.2f}x")
    if args.torch:
        for r in rows[:-1]:
            print(f"{r['name']} vs PyTorch: {r['steps_per_s'] / rows[-1]['steps_per_s']:.2f}x")
    with open(args.json, "w") as f:
        json.dump({"info": info, "rows": rows}, f, indent=2)
    print(f"wrote {args.json}")
    return 0


def _mmt_row(name, seconds, tokens, flops, peak, loss):
    return {
        "name": name,
        "steps_per_s": 1 / seconds,
        "tokens_per_s": tokens / seconds,
        "ms_per_step": 1e3 * seconds,
        "model_tflops_per_s": flops / seconds / 1e12,
        "mfu": flops / seconds / peak if peak else None,
        "final_loss": float(loss),
    }


def main(argv=None):
    args = parse_args(argv)
    if args.model == "mmt":
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # torch_mmt beside this file
        return mmt_main(args)
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

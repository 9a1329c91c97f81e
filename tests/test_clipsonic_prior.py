"""The diffusion prior: our Flax networks equal DALLE2-pytorch's DiffusionPriorNetwork and
diffusers' PriorTransformer on the same random weights, the reference-mode DDIM sampler equals
DALLE2-pytorch's, the importer names every broken key, DDIM samples a known Gaussian, and the
prior's train step on an 8-device (data, fsdp, tensor) mesh equals the single-device step."""

import flax
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from clipsonic_tiny import dalle2_prior_module

from clipsonic_jax.diffusion import alpha_bar
from clipsonic_jax.karlo import KarloPrior, import_karlo, infer_config
from clipsonic_jax.prior_config import PriorDiffusionConfig, PriorNetConfig
from clipsonic_jax.prior_diffusion import make_loss, make_sampler, net_predict
from clipsonic_jax.prior_import import import_dalle2_prior, infer_net_config, state_dict_arrays, torch_key
from clipsonic_jax.prior_model import PriorNetwork, init_params
from music_codecs.errors import UserError
from train_kit import mesh as tk_mesh
from train_kit import optim, sharding, step
from train_kit.config import MeshConfig, OptimConfig

D, L, B = 16, 6, 3


def _perturb(torch, module, scale=0.1):
    """Random weights everywhere (LayerNorm gains too), fixed buffers (rotary frequencies) kept."""
    with torch.no_grad():
        for name, p in module.named_parameters():
            if "freqs" not in name:
                p.add_(torch.randn_like(p) * scale)
    return module.eval()


@pytest.fixture(scope="module")
def dalle2():
    module, why = dalle2_prior_module()
    if module is None:
        pytest.skip(why)
    import torch

    torch.manual_seed(0)
    # dim_head 40 > 32: rotary covers only the first 32 channels
    net = module.DiffusionPriorNetwork(
        dim=D, depth=2, dim_head=40, heads=2, num_timesteps=50, max_text_len=L, normformer=True, ff_mult=2
    )
    _perturb(torch, net, 0.3)
    sd = state_dict_arrays(net.state_dict())
    cfg = infer_net_config(sd)
    return module, torch, net, cfg, import_dalle2_prior(sd, cfg)


def _inputs(torch):
    g = torch.Generator().manual_seed(1)
    x = torch.randn(B, D, generator=g) * 4
    t = torch.tensor([0, 7, 49])
    te = torch.nn.functional.normalize(torch.randn(B, D, generator=g), dim=-1)
    enc = torch.randn(B, L - 2, D, generator=g)  # shorter than max_text_len: padded
    enc[0, 2:] = 0  # after EOS
    enc[1, 1:] = 0
    return x, t, te, enc


def test_dalle2_network_matches_pytorch(dalle2):
    module, torch, net, cfg, params = dalle2
    assert (cfg.dim, cfg.depth, cfg.heads, cfg.dim_head, cfg.ff_mult) == (D, 2, 2, 40, 2)
    assert cfg.num_timesteps == 50 and cfg.max_text_len == L and cfg.normformer
    x, t, te, enc = _inputs(torch)
    for drop in (0.0, 1.0):  # conditional, and the null pass of classifier-free guidance
        with torch.no_grad():
            ref = net(
                x, t, text_embed=te, text_encodings=enc, text_cond_drop_prob=drop, image_cond_drop_prob=drop
            )
        keep = jnp.full((B,), drop == 0.0)
        ours = PriorNetwork(cfg).apply(
            {"params": params}, *(jnp.asarray(a.numpy()) for a in (x, t, te, enc)), keep, keep
        )
        np.testing.assert_allclose(
            np.asarray(ours), ref.numpy(), atol=1e-5 * max(1.0, ref.abs().max().item())
        )
    assert (
        np.abs(
            np.asarray(ours)
            - np.asarray(
                PriorNetwork(cfg).apply(
                    {"params": params}, *(jnp.asarray(a.numpy()) for a in (x, t, te, enc)), ~keep, ~keep
                )
            )
        ).max()
        > 1e-2
    )


@pytest.mark.parametrize("guidance", [1.0, 2.5])
def test_reference_ddim_matches_dalle2_sampler(dalle2, guidance):
    module, torch, net, cfg, params = dalle2
    _, _, te, enc = _inputs(torch)
    prior = module.DiffusionPrior(
        net, image_embed_dim=D, timesteps=50, cond_drop_prob=0.1, condition_on_text_encodings=True
    )
    torch.manual_seed(3)
    init = torch.randn(B, D)
    torch.manual_seed(3)  # the reference draws its starting noise first
    with torch.no_grad():
        ref = prior.p_sample_loop(
            (B, D),
            text_cond=dict(text_embed=te, text_encodings=enc),
            cond_scale=guidance,
            timesteps=10,
            eta=0.0,
        ).numpy()
    dcfg = PriorDiffusionConfig(timesteps=50, sample_timesteps=10, eta=0.0, candidates=1, reference_ddim=True)
    raw = make_sampler(net_predict(PriorNetwork(cfg)), dcfg, D, raw=True)
    ours = raw(
        params,
        jnp.asarray(te.numpy()),
        jnp.asarray(enc.numpy()),
        jax.random.key(0),
        guidance,
        jnp.asarray(init.numpy()),
    )
    np.testing.assert_allclose(np.asarray(ours), ref, atol=1e-5)


def test_karlo_network_matches_diffusers():
    torch = pytest.importorskip("torch", reason="parity needs torch (the `torch` extra)")
    models = pytest.importorskip(  # the module itself: importing diffusers.models takes seconds more
        "diffusers.models.transformers.prior_transformer",
        reason="parity needs diffusers (the `parity` extra)",
    )
    torch.manual_seed(0)
    net = models.PriorTransformer(
        num_attention_heads=2, attention_head_dim=64, num_layers=2, embedding_dim=12, num_embeddings=5
    )
    _perturb(torch, net)
    sd = {k: v.numpy() for k, v in net.state_dict().items()}
    cfg = infer_config(sd)
    assert (cfg.heads, cfg.layers, cfg.num_embeddings, cfg.embedding_dim) == (2, 2, 5, 12)
    params = import_karlo(sd, cfg)
    g = torch.Generator().manual_seed(2)
    x, te, enc = (
        torch.randn(B, 12, generator=g),
        torch.randn(B, 12, generator=g),
        torch.randn(B, 5, 12, generator=g),
    )
    t = torch.tensor([0, 5, 999])
    mask = torch.ones(B, 5, dtype=torch.bool)
    mask[0, 3:] = False
    with torch.no_grad():
        ref = net(
            x, t, proj_embedding=te, encoder_hidden_states=enc, attention_mask=mask
        ).predicted_image_embedding
    ours = KarloPrior(cfg).apply({"params": params}, *(jnp.asarray(a.numpy()) for a in (x, t, te, enc, mask)))
    np.testing.assert_allclose(np.asarray(ours), ref.numpy(), atol=1e-5 * max(1.0, ref.abs().max().item()))
    del sd["norm_out.bias"]
    sd["proj_in.weight"] = sd["proj_in.weight"][:, :5]
    with pytest.raises(UserError, match=r"missing norm_out\.bias.*mis-shaped proj_in\.weight"):
        import_karlo(sd, cfg)


def _our_state_dict(cfg, seed=0):
    """A DALLE2-pytorch-named state dict made from our own random parameters (no torch)."""
    from train_kit.sharding import unbox

    init = jax.jit(lambda k: unbox(init_params(PriorNetwork(cfg), k)))  # eager init is slow
    flat = flax.traverse_util.flatten_dict(init(jax.random.key(seed)))
    out = {}
    for path, v in flat.items():
        key, transpose = torch_key(path)
        out["net." + key] = np.asarray(v).T if transpose else np.asarray(v)
    out["noise_scheduler.betas"] = np.zeros(1000, np.float32)  # known buffers are skipped
    return out


def test_importer_round_trips_and_names_every_broken_key():
    cfg = PriorNetConfig.tiny(dim=D, max_text_len=L)
    sd = _our_state_dict(cfg)
    assert infer_net_config(sd) == cfg
    params = import_dalle2_prior(sd, cfg)
    assert params["causal_transformer"]["attn_1"]["to_kv"]["kernel"].shape == (D, 2 * cfg.dim_head)
    broken = dict(sd)
    del broken["net.causal_transformer.layers.1.0.null_kv"]
    broken["net.causal_transformer.layers.0.1.1.weight"] = np.zeros((3, D), np.float32)
    broken["net.to_text_embeds.0.weight"] = np.zeros((D, D), np.float32)  # a newer version's key
    with pytest.raises(UserError) as err:
        import_dalle2_prior(broken, cfg)
    msg = str(err.value)
    assert "missing causal_transformer.layers.1.0.null_kv" in msg
    assert "unexpected to_text_embeds.0.weight" in msg
    assert "mis-shaped causal_transformer.layers.0.1.1.weight (3, 16) (expected (64, 16))" in msg
    assert "\n" not in msg


@pytest.mark.parametrize("eta", [0.0, 1.0])
def test_ddim_samples_a_known_gaussian(eta):
    """With the exact denoiser of x0 ~ N(mu, diag(sig²)), DDIM must return that Gaussian."""
    mu = jnp.array([1.0, -2.0, 0.5, 0.0])
    sig = jnp.array([0.5, 1.0, 2.0, 0.1])
    dcfg = PriorDiffusionConfig(
        timesteps=1000, sample_timesteps=250, eta=eta, candidates=1, image_embed_scale=1.0
    )
    abar = jnp.asarray(alpha_bar(dcfg), jnp.float32)

    def exact_x0(params, x, t, *rest):
        a = jnp.sqrt(abar[t])[:, None]
        return mu + a * sig**2 / (a**2 * sig**2 + 1 - a**2) * (x - a * mu)

    n = 4000
    sample = make_sampler(exact_x0, dcfg, 4, raw=True)
    x = np.asarray(sample({}, jnp.ones((n, 4)) / 2.0, None, jax.random.key(0), 1.0))
    np.testing.assert_allclose(x.mean(0), mu, atol=4 * float(sig.max()) / np.sqrt(n))
    np.testing.assert_allclose(x.std(0), sig, rtol=0.05)


def _train(mesh_cfg, devices=None, steps=2):
    cfg = PriorNetConfig(dim=D, depth=1, heads=2, dim_head=8, ff_mult=2, num_timesteps=100, max_text_len=L)
    net = PriorNetwork(cfg)
    dcfg = PriorDiffusionConfig(timesteps=100)
    tx, _ = optim.make_optimizer(OptimConfig(lr=1e-2, clip_norm=1.0))
    mesh = tk_mesh.make_mesh(mesh_cfg, devices)
    state, shardings = sharding.create_train_state(lambda r: init_params(net, r), tx, mesh, seed=1)
    rng = np.random.default_rng(0)
    unit = lambda x: (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)  # noqa: E731
    batch = {
        "text": unit(rng.normal(size=(8, D))),
        "enc": rng.normal(size=(8, L, D)).astype(np.float32),
        "image": unit(rng.normal(size=(8, D))),
    }
    batch["enc"][:, 3:] = 0
    train_step = step.make_train_step(
        make_loss(net_predict(net), dcfg, D), tx, shardings, tk_mesh.batch_shardings(batch, mesh)
    )
    losses = []
    for _ in range(steps):
        state, metrics = train_step(state, tk_mesh.global_batch(batch, mesh))
        losses.append(float(metrics["loss"]))
    return losses, state


def test_sharded_train_step_equals_single_device():
    ref_losses, ref = _train(MeshConfig(1, 1, 1), devices=jax.devices()[:1])
    losses, state = _train(MeshConfig(2, 2, 2))
    np.testing.assert_allclose(losses, ref_losses, rtol=2e-5)
    jax.tree.map(
        lambda a, b: np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-4, atol=1e-5),
        state.params,
        ref.params,
    )
    k = state.params["causal_transformer"]["ff_0"]["proj_in"]["kernel"]  # [embed 16, mlp 64]
    assert k.sharding.spec == jax.sharding.PartitionSpec("fsdp", "tensor")
    assert k.addressable_shards[0].data.shape == (D // 2, k.shape[1] // 2)


def test_import_prior_command_writes_a_loadable_run(tmp_path, capsys):
    from safetensors.numpy import save_file

    from clipsonic_jax import cli
    from clipsonic_jax.prior_load import load
    from model_kit.clip_load import write_tiny_clip

    cfg = PriorNetConfig.tiny(dim=D, max_text_len=L)
    sd = _our_state_dict(cfg, seed=3)
    save_file(sd, str(tmp_path / "prior.safetensors"))
    write_tiny_clip(tmp_path / "clip")  # the CLIP folder must exist (checked before any work)
    out = tmp_path / "run"
    args = ["import-prior", "--dalle2", str(tmp_path / "prior.safetensors"), "--clip", str(tmp_path / "clip")]
    args += ["--config", "configs/clipsonic/prior_tiny.py", "--out", str(out)]
    with pytest.raises(SystemExit) as e:
        cli.main(args)
    assert e.value.code == 0
    prior = load(out)
    assert prior.cfg.net == cfg and prior.clip_dir == str(tmp_path / "clip")
    np.testing.assert_array_equal(prior.params["learned_query"], sd["net.learned_query"])
    capsys.readouterr()
    with pytest.raises(SystemExit) as e:  # never overwrites
        cli.main(args)
    assert e.value.code == 2 and "exists" in capsys.readouterr().err


def test_image_folder_with_captions_csv_gives_split_pairs_and_names_bad_files(tmp_path, capsys):
    """The real-data source: a folder of images with file,caption rows; unreadable, missing and
    uncaptioned images are skipped by name, several rows per file give several pairs, and the
    held-out pairs are exactly those of every n-th file."""
    from PIL import Image

    from clipsonic_jax.prior_config import PriorDataConfig
    from clipsonic_jax.prior_data import build_pairs
    from model_kit.clip_load import load_clip, write_tiny_clip

    write_tiny_clip(tmp_path / "clip")
    clip = load_clip(str(tmp_path / "clip"))
    images = tmp_path / "images"
    images.mkdir()
    colours = {
        "red.png": (255, 0, 0),
        "green.png": (0, 255, 0),
        "blue.png": (0, 0, 255),
        "grey.png": (99,) * 3,
    }
    for name, rgb in colours.items():
        Image.new("RGB", (40, 30), rgb).save(images / name)
    (images / "broken.png").write_bytes(b"not a png")
    (images / "uncaptioned.png").write_bytes((images / "red.png").read_bytes())
    rows = [("red.png", "a red square"), ("red.png", "crimson"), ("green.png", "a green square")]
    rows += [("blue.png", "a blue square"), ("grey.png", "a grey square")]
    rows += [("broken.png", "oops"), ("gone.png", "missing file")]
    (tmp_path / "captions.csv").write_text("file,caption\n" + "".join(f"{f},{c}\n" for f, c in rows))

    cfg = PriorDataConfig(path=str(images), captions=str(tmp_path / "captions.csv"), eval_every_nth=2)
    pairs = build_pairs(cfg, clip)

    assert sorted(name for name, _ in pairs.skipped) == ["broken.png", "gone.png"]
    assert "broken.png" in capsys.readouterr().out
    assert pairs.files == ["blue.png", "green.png", "grey.png", "red.png"]
    assert sorted(pairs.captions) == sorted(c for f, c in rows if f in colours)
    red = [i for i, c in enumerate(pairs.captions) if c in ("a red square", "crimson")]
    np.testing.assert_array_equal(pairs.image[red[0]], pairs.image[red[1]])  # one image, two captions
    assert not np.allclose(pairs.text[red[0]], pairs.text[red[1]])
    np.testing.assert_allclose(np.linalg.norm(pairs.image, axis=1), 1.0, atol=1e-5)
    blue = pairs.captions.index("a blue square")
    expected = clip.embed_images([np.asarray(Image.open(images / "blue.png").convert("RGB"))])[0]
    np.testing.assert_allclose(pairs.image[blue], expected, atol=1e-5)
    held_files = {pairs.file_index[i] for i in pairs.eval_idx}
    train_files = {pairs.file_index[i] for i in pairs.train_idx}
    assert held_files and train_files and not held_files & train_files
    assert len(pairs.eval_idx) + len(pairs.train_idx) == len(pairs.captions)

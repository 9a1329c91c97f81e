"""Converter from the reference PyTorch state dict, checked against an independent NumPy forward.

The NumPy pass below is written from reference §2/§9 and reads the *reference* keys directly, so a
wrong transpose, head split, rotary convention or mask rule in the model or converter shows up
as a logits mismatch.
"""

import json
import math

import numpy as np
import pytest

from mmt_jax import convert
from mmt_jax.cli import COMMANDS
from mmt_jax.config import Config
from mmt_jax.load import load
from mmt_jax.model import MMTConfig, MusicTransformer
from music_codecs.errors import UserError
from train_kit.cli import run_cli

P = "decoder.net."
VOCAB = (5, 257, 13, 129, 33, 65)


def reference_state_dict(rng, dim=32, depth=2, inner=64, ff=64, pos="absolute", max_len=16, rot_dim=None):
    """Random arrays under the reference's key names and PyTorch shapes ([out, in] weights)."""
    sd = {}

    def put(key, *shape, scale=0.3):
        sd[P + key] = (rng.standard_normal(shape) * scale).astype(np.float32)

    for i, n in enumerate(VOCAB):
        put(f"token_emb.{i}.emb.weight", n, dim, scale=1.0)
    if pos == "absolute":
        put("pos_emb.emb.weight", max_len, dim, scale=1.0)
    if pos == "rotary":
        sd[P + "attn_layers.rotary_pos_emb.inv_freq"] = (
            1.0 / 10000 ** (np.arange(0, rot_dim, 2) / rot_dim)
        ).astype(np.float32)
    for j in range(depth):
        a, f = f"attn_layers.layers.{2 * j}", f"attn_layers.layers.{2 * j + 1}"
        put(f"{a}.0.0.weight", dim)
        put(f"{a}.0.0.bias", dim)
        for name in ("to_q", "to_k", "to_v"):
            put(f"{a}.1.{name}.weight", inner, dim)
        put(f"{a}.1.to_out.weight", dim, inner)
        put(f"{a}.1.to_out.bias", dim)
        put(f"{f}.0.0.weight", dim)
        put(f"{f}.0.0.bias", dim)
        put(f"{f}.1.net.0.0.weight", ff, dim)
        put(f"{f}.1.net.0.0.bias", ff)
        put(f"{f}.1.net.3.weight", dim, ff)
        put(f"{f}.1.net.3.bias", dim)
    put("norm.weight", dim)
    put("norm.bias", dim)
    for i, n in enumerate(VOCAB):
        put(f"to_logits.{i}.weight", n, dim)
        put(f"to_logits.{i}.bias", n)
    return sd


# ----------------------------------------------------------------------------- NumPy reference


def np_layer_norm(x, w, b, eps=1e-5):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + b


def np_gelu(x):
    erf = np.vectorize(math.erf)
    return 0.5 * x * (1.0 + erf(x / math.sqrt(2.0)))


def np_rotate(t, rot):
    """Rotate the first `rot` dims of [B,H,N,D]: pair dim i with i + rot/2, position = index."""
    n = t.shape[2]
    inv = 1.0 / 10000 ** (np.arange(0, rot, 2) / rot)
    ang = np.arange(n)[:, None] * inv[None]
    ang = np.concatenate([ang, ang], -1)
    x = t[..., :rot]
    half = rot // 2
    rotated_half = np.concatenate([-x[..., half:], x[..., :half]], -1)
    return np.concatenate([x * np.cos(ang) + rotated_half * np.sin(ang), t[..., rot:]], -1)


def np_forward(sd, codes, mask, heads, pos, rot_dim=None):
    """The reference network (reference §9), in float64, straight from the state dict."""
    w = {k[len(P) :]: v.astype(np.float64) for k, v in sd.items()}
    b, n, _ = codes.shape
    x = sum(w[f"token_emb.{i}.emb.weight"][codes[..., i]] for i in range(6))
    dim = x.shape[-1]
    if pos == "absolute":
        x = x + w["pos_emb.emb.weight"][:n] * dim**-0.5
    depth = len({k.split(".")[2] for k in w if k.startswith("attn_layers.layers.")}) // 2
    allowed = np.tril(np.ones((n, n), bool))[None] & mask[:, :, None] & mask[:, None, :]
    for j in range(depth):
        a, f = f"attn_layers.layers.{2 * j}", f"attn_layers.layers.{2 * j + 1}"
        h = np_layer_norm(x, w[f"{a}.0.0.weight"], w[f"{a}.0.0.bias"])
        q, k, v = (h @ w[f"{a}.1.{m}.weight"].T for m in ("to_q", "to_k", "to_v"))
        # 'b n (h d) -> b h n d': heads are the outer factor of the 512 outputs
        q, k, v = (t.reshape(b, n, heads, -1).transpose(0, 2, 1, 3) for t in (q, k, v))
        if pos == "rotary":
            q, k, v = (np_rotate(t, rot_dim) for t in (q, k, v))
        dots = q @ k.transpose(0, 1, 3, 2) * q.shape[-1] ** -0.5
        dots = np.where(allowed[:, None], dots, -np.finfo(np.float32).max)
        dots = dots - dots.max(-1, keepdims=True)
        attn = np.exp(dots) / np.exp(dots).sum(-1, keepdims=True)
        out = (attn @ v).transpose(0, 2, 1, 3).reshape(b, n, -1)
        x = x + out @ w[f"{a}.1.to_out.weight"].T + w[f"{a}.1.to_out.bias"]
        h = np_layer_norm(x, w[f"{f}.0.0.weight"], w[f"{f}.0.0.bias"])
        h = np_gelu(h @ w[f"{f}.1.net.0.0.weight"].T + w[f"{f}.1.net.0.0.bias"])
        x = x + h @ w[f"{f}.1.net.3.weight"].T + w[f"{f}.1.net.3.bias"]
    x = np_layer_norm(x, w["norm.weight"], w["norm.bias"])
    return [x @ w[f"to_logits.{i}.weight"].T + w[f"to_logits.{i}.bias"] for i in range(6)]


def random_codes(rng, b, n):
    return np.stack([rng.integers(0, v, (b, n)) for v in VOCAB], -1).astype(np.int32)


# ----------------------------------------------------------------------------- tests


@pytest.mark.parametrize("pos", ["absolute", "rotary", "none"])
def test_converted_weights_give_the_numpy_reference_logits(pos):
    rng = np.random.default_rng(1)
    heads, rot = 8, 4 if pos == "rotary" else None  # 8 heads x 8 dims, the first 4 rotated
    sd = reference_state_dict(rng, pos=pos, rot_dim=rot)
    params, config = convert.params_from_state_dict(sd, heads=heads)
    assert (config.depth, config.dim, config.heads, config.head_dim) == (2, 32, 8, 8)
    assert config.vocab_sizes == VOCAB and config.pos_emb == pos and config.ff_mult == 2
    codes = random_codes(rng, 2, 9)
    mask = np.ones((2, 9), bool)
    mask[1, 6:] = False  # right padding, reference mask semantics (pad rows attend uniformly)
    ours = MusicTransformer(config).apply({"params": params}, codes, mask)
    want = np_forward(sd, codes, mask, heads, pos, rot)
    for got, exp in zip(ours, want):
        np.testing.assert_allclose(np.asarray(got), exp, rtol=1e-4, atol=1e-4)


def test_head_split_is_head_major():
    """Swapping the head split order must change the logits (the test above can tell)."""
    rng = np.random.default_rng(2)
    sd = reference_state_dict(rng)
    codes, mask = random_codes(rng, 1, 7), np.ones((1, 7), bool)
    params, config = convert.params_from_state_dict(sd, heads=8)
    ours = MusicTransformer(config).apply({"params": params}, codes, mask)
    # a head-minor split of the same weights is a different network
    wrong = {k: v for k, v in sd.items()}
    for key in [k for k in sd if k.endswith(("to_q.weight", "to_k.weight", "to_v.weight"))]:
        wrong[key] = sd[key].reshape(8, 8, -1).transpose(1, 0, 2).reshape(64, -1)
    want_wrong = np_forward(wrong, codes, mask, 8, "absolute")
    assert np.abs(np.asarray(ours[3]) - want_wrong[3]).max() > 1e-2


def test_round_trip_and_paper_layout():
    rng = np.random.default_rng(3)
    sd = reference_state_dict(rng, pos="rotary", rot_dim=4)
    params, config = convert.params_from_state_dict(sd, heads=8)
    back = convert.state_dict_to_reference(params, config)
    assert back.keys() == sd.keys()
    for k in sd:
        np.testing.assert_array_equal(back[k], sd[k])
    # the paper model's layout: 99 tensors, 19,944,950 numbers (reference §9)
    rows = convert.layout(MMTConfig())
    assert len(rows) == 99
    assert sum(int(np.prod(shape)) for _, _, shape, _, _ in rows) == 19_944_950
    assert rows[9][0] == "attn_layers.layers.0.1.to_q.weight" and rows[9][2] == (512, 512)


def test_default_head_dim_is_64_like_x_transformers():
    rng = np.random.default_rng(4)
    sd = reference_state_dict(rng, dim=128, inner=128, ff=256, depth=1)
    config = convert.infer_config(sd)
    assert (config.heads, config.head_dim) == (2, 64)


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda sd: sd.pop(P + "attn_layers.layers.1.1.net.3.bias"), "attn_layers.layers.1.1.net.3.bias"),
        (
            lambda sd: sd.__setitem__(P + "to_logits.2.weight", np.zeros((14, 32), np.float32)),
            "to_logits.2.weight",
        ),
        (
            lambda sd: sd.__setitem__(P + "attn_layers.layers.0.1.mem_k", np.zeros(3, np.float32)),
            "attn_layers.layers.0.1.mem_k",
        ),
        (lambda sd: sd.__setitem__(P + "norm.bias", np.full(32, np.nan, np.float32)), "norm.bias"),
        (
            lambda sd: sd.__setitem__(P + "token_emb.0.emb.weight", np.zeros(5, np.float32)),
            "token_emb.0.emb.weight",
        ),
        (lambda sd: sd.pop(P + "token_emb.4.emb.weight"), "token_emb.4.emb.weight"),
    ],
)
def test_mismatch_is_refused_naming_the_key(edit, message):
    sd = reference_state_dict(np.random.default_rng(5))
    edit(sd)
    with pytest.raises(UserError, match=message.replace(".", r"\.")):
        convert.params_from_state_dict(sd, heads=8)


def test_npz_file_to_checkpoint_and_back(tmp_path):
    rng = np.random.default_rng(6)
    sd = reference_state_dict(rng, depth=1)
    np.savez(tmp_path / "best_model.npz", **sd)
    argv = [
        "convert-reference",
        "--checkpoint",
        str(tmp_path / "best_model.npz"),
        "--out",
        str(tmp_path / "out"),
        "--heads",
        "4",
    ]
    assert run_cli("mmt-jax", "", COMMANDS, argv) == 0
    info = json.loads((tmp_path / "out" / "run.json").read_text())
    assert info["system"] == "mmt" and info["source"] == str(tmp_path / "best_model.npz")
    params, cfg = load(tmp_path / "out")
    loaded = cfg.model
    assert (loaded.heads, loaded.head_dim, loaded.depth, loaded.pos_emb) == (4, 16, 1, "absolute")
    assert cfg.data.max_beat == 256 and cfg.optim == Config().optim  # a full Config around it
    convert.save_reference_npz(tmp_path / "back.npz", params, loaded)
    back = convert.load_state_dict(tmp_path / "back.npz")
    assert back.keys() == sd.keys()
    for k in sd:
        np.testing.assert_array_equal(back[k], sd[k])


def test_bad_files_are_user_errors(tmp_path):
    with pytest.raises(UserError, match="not found"):
        convert.load_state_dict(tmp_path / "missing.pt")
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    assert (
        run_cli(
            "mmt-jax",
            "",
            COMMANDS,
            ["convert-reference", "--checkpoint", str(tmp_path / "junk.npz"), "--out", str(tmp_path / "o")],
        )
        == 2
    )
    with pytest.raises(UserError, match="cannot read"):
        convert.load_state_dict(tmp_path / "junk.npz")
    with pytest.raises(UserError, match="not a run folder"):
        load(tmp_path)
    try:
        import torch  # noqa: F401
    except ImportError:
        (tmp_path / "best_model.pt").write_bytes(b"x")
        with pytest.raises(UserError, match=r'pip install -e "\.\[torch\]"'):
            convert.load_state_dict(tmp_path / "best_model.pt")


def test_train_args_beside_checkpoints_choose_the_variant(tmp_path):
    """Without a rotary buffer, RPE and NPE state dicts look alike; train-args.json decides."""
    sd = reference_state_dict(np.random.default_rng(7), dim=64, inner=128, ff=128, depth=1, pos="none")
    assert convert.infer_config(sd).pos_emb == "none"
    (tmp_path / "checkpoints").mkdir()
    np.savez(tmp_path / "checkpoints" / "best_model.npz", **sd)
    (tmp_path / "train-args.json").write_text(
        '{"dim": 64, "layers": 1, "heads": 2, "rel_pos_emb": true, "abs_pos_emb": true}'
    )
    _, config, n = convert.convert_file(tmp_path / "checkpoints" / "best_model.npz", tmp_path / "out")
    assert (config.pos_emb, config.heads, config.head_dim, config.rotary_dims) == ("rotary", 2, 64, 32)
    assert n == sum(v.size for v in sd.values())

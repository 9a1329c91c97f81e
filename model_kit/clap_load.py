"""LAION-CLAP checkpoints (laion-clap's `.pt`, non-fusion HTSAT + RoBERTa) -> our Flax CLAP.

The file holds {"state_dict": {...}} (keys may carry DataParallel's `module.` prefix); .safetensors
or .npz files with the same keys load without torch. Our parameter tree mirrors laion's module
names (`layers_0` <-> `layers.0`); Linear weights are transposed, conv weights go [out, in, kh, kw]
-> [kh, kw, in, out], LayerNorm/Embedding `weight` -> scale/embedding. Sizes (HTSAT-tiny/-base,
the RoBERTa width and depth, the joint width) are read off the tensor shapes; RoBERTa's head
count is not in any shape, so it is width / 64 (roberta-base's head size) unless given.

Not used, so not loaded: the AudioSet head (`tscam_conv`, `head`), the contrastive-loss extras
(`audio_transform`, `text_transform`, `logit_scale_*`) and buffers we recompute (STFT kernels,
relative position indices, shift masks, `num_batches_tracked`, `position_ids`); the STFT kernel
and mel filterbank shapes are still checked, and the filterbank's values, so a checkpoint with
another front end is refused rather than silently mis-read.

    params, cfg = load_params("630k-audioset-best.pt")
    clap = load_clap("630k-audioset-best.pt", "roberta-base/")   # + tokenizer dir -> model_kit.clap_model.Clap
"""

from __future__ import annotations

import functools
import hashlib
import os
import re

import flax
import jax
import jax.numpy as jnp
import numpy as np

from model_kit.clap_htsat import N_FFT, HTSATConfig, mel_filters
from model_kit.clap_model import CLAP, Clap, ClapConfig
from model_kit.clap_text import RobertaConfig
from model_kit.clip_load import _to_hf, _to_ours  # the same torch <-> Flax layout rules
from model_kit.state_dict import check_keys, read_state_dict
from music_codecs.errors import UserError

WHAT = "LAION-CLAP (laion-clap layout, HTSAT + RoBERTa)"
UNUSED = (
    "audio_branch.tscam_conv.",
    "audio_branch.head.",
    "audio_transform.",
    "text_transform.",
    "logit_scale_",
)
BUFFERS = ("relative_position_index", "attn_mask", "num_batches_tracked", "position_ids", "token_type_ids")
FRONT_END = {
    "audio_branch.spectrogram_extractor.stft.conv_real.weight": (N_FFT // 2 + 1, 1, N_FFT),
    "audio_branch.spectrogram_extractor.stft.conv_imag.weight": (N_FFT // 2 + 1, 1, N_FFT),
}
MELW = "audio_branch.logmel_extractor.melW"
FUSION = ("fusion_model", "mel_conv2d", "mel_conv1d")


def torch_key(path, ndim):
    """Our parameter path -> (laion key, kind) with kind in dense/conv/plain."""
    *mods, leaf = path
    key = ".".join(re.sub(r"_(\d+)$", r".\1", m) for m in mods)
    if leaf == "kernel":
        return f"{key}.weight", "conv" if ndim == 4 else "dense"
    if leaf in ("scale", "embedding"):
        return f"{key}.weight", "plain"
    return f"{key}.{leaf}", "plain"


@functools.lru_cache(maxsize=4)
def abstract_params(cfg: ClapConfig):
    a = cfg.audio
    mel = jnp.zeros((1, a.spec_size * a.freq_ratio, a.mel_bins))
    ids = jnp.ones((1, 4), jnp.int32)
    return jax.eval_shape(lambda: CLAP(cfg).init(jax.random.key(0), mel, ids, ids))["params"]


def layout(cfg: ClapConfig):
    """{our path: (laion key, kind, our shape)}."""
    flat = flax.traverse_util.flatten_dict(abstract_params(cfg))
    return {p: (*torch_key(p, len(s.shape)), tuple(s.shape)) for p, s in flat.items()}


def expected_shapes(cfg: ClapConfig):
    # the layout change applied to a zero-memory view gives the torch shape
    out = {k: _to_hf(np.broadcast_to(np.float32(0), s), kind).shape for k, kind, s in layout(cfg).values()}
    return out | FRONT_END | {MELW: (N_FFT // 2 + 1, cfg.audio.mel_bins)}


def strip_prefix(sd):
    return {k.removeprefix("module."): v for k, v in sd.items()}


def _count(sd, pattern):
    found = {int(m.group(1)) for k in sd for m in [re.match(pattern, k)] if m}
    return max(found) + 1 if found else 0


def _shape(sd, key):
    if key not in sd:
        raise UserError(f"{WHAT}: cannot size the model: missing {key}")
    return np.shape(sd[key])


def infer_config(sd, text_head_dim=64) -> ClapConfig:
    """Sizes from the tensor shapes of a prefix-free laion state dict."""
    if any(f in k for k in sd for f in FUSION):
        raise UserError(f"{WHAT}: this is a fusion checkpoint; only non-fusion checkpoints are supported")
    if "audio_branch.patch_embed.proj.weight" not in sd:
        raise UserError(f"{WHAT}: not an HTSAT CLAP checkpoint (no audio_branch.patch_embed.proj.weight)")
    embed, _, patch, _ = _shape(sd, "audio_branch.patch_embed.proj.weight")
    stages = _count(sd, r"audio_branch\.layers\.(\d+)\.")
    depths = tuple(_count(sd, rf"audio_branch\.layers\.{i}\.blocks\.(\d+)\.") for i in range(stages))
    tables = [
        _shape(sd, f"audio_branch.layers.{i}.blocks.0.attn.relative_position_bias_table")
        for i in range(stages)
    ]
    window = (int(round(np.sqrt(tables[0][0]))) + 1) // 2
    hidden = _shape(sd, "audio_branch.layers.0.blocks.0.mlp.fc1.weight")[0]
    audio = HTSATConfig(
        embed_dim=int(embed),
        depths=depths,
        heads=tuple(int(t[1]) for t in tables),
        window=window,
        patch=int(patch),
        mel_bins=int(_shape(sd, "audio_branch.bn0.weight")[0]),
        mlp_ratio=hidden / embed,
    )
    vocab, width = _shape(sd, "text_branch.embeddings.word_embeddings.weight")
    text = RobertaConfig(
        vocab_size=int(vocab),
        hidden=int(width),
        layers=_count(sd, r"text_branch\.encoder\.layer\.(\d+)\."),
        heads=max(1, int(width) // text_head_dim),
        intermediate=int(_shape(sd, "text_branch.encoder.layer.0.intermediate.dense.weight")[0]),
        max_positions=int(_shape(sd, "text_branch.embeddings.position_embeddings.weight")[0]),
        type_vocab_size=int(_shape(sd, "text_branch.embeddings.token_type_embeddings.weight")[0]),
    )
    return ClapConfig(audio, text, joint=int(_shape(sd, "audio_projection.0.weight")[0]))


def params_from_state_dict(sd, cfg: ClapConfig | None = None, text_head_dim=64):
    sd = strip_prefix(sd)
    sd = {k: v for k, v in sd.items() if not k.startswith(UNUSED)}
    cfg = cfg or infer_config(sd, text_head_dim)
    if any(f in k for k in sd for f in FUSION):
        raise UserError(f"{WHAT}: this is a fusion checkpoint; only non-fusion checkpoints are supported")
    check_keys(expected_shapes(cfg), sd, WHAT, ignore=BUFFERS)
    ours = mel_filters(cfg.audio.mel_bins)
    if not np.allclose(np.asarray(sd[MELW], np.float64), ours, atol=1e-3 * ours.max()):
        raise UserError(f"{WHAT}: its mel filterbank is not laion's 48 kHz, 50-14000 Hz one; not supported")
    params = {}
    for path, (key, kind, _) in layout(cfg).items():
        params[path] = jnp.asarray(_to_ours(np.asarray(sd[key], np.float32), kind))
    return flax.traverse_util.unflatten_dict(params), cfg


def load_params(path, cfg: ClapConfig | None = None, text_head_dim=64):
    """(params, cfg) from a laion-clap checkpoint file."""
    return params_from_state_dict(read_state_dict(path), cfg, text_head_dim)


def load_clap(path, tokenizer_dir, cfg: ClapConfig | None = None, text_head_dim=64) -> Clap:
    from model_kit.clap_tokenizer import ClapTokenizer

    tokenizer = ClapTokenizer.from_dir(tokenizer_dir)
    params, cfg = load_params(path, cfg, text_head_dim)
    if max(tokenizer.vocab.values()) >= cfg.text.vocab_size:
        raise UserError(
            f"{tokenizer_dir}: its vocabulary has ids up to {max(tokenizer.vocab.values())}, "
            f"the checkpoint's text embedding only {cfg.text.vocab_size}"
        )
    with open(path, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()[:12]
    size = {96: "HTSAT-tiny", 128: "HTSAT-base"}.get(cfg.audio.embed_dim, f"HTSAT-{cfg.audio.embed_dim}")
    name = f"laion-clap {size} + RoBERTa ({os.path.basename(path)}, sha256 {digest})"
    return Clap(name, cfg, params, tokenizer)

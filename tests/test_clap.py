"""CLAP: our HTSAT/RoBERTa towers, tokenizer and importer against laion-clap 1.1.7 on tiny random
weights (laion's own modules, its own state dict through our importer), importer refusals, the
CLAP report, and `clipsonic-jax evaluate`'s one-line errors for bad --clap flags. (A whole
`evaluate --clap` run takes about 30 s on a 2-core CPU, too long to add here.)"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import json
import os
import re
import sys
import types

import jax
import numpy as np
import pytest

from model_kit import clap_htsat, clap_load, clap_model
from model_kit.clap_tokenizer import ClapTokenizer, byte_chars
from music_codecs.errors import UserError

TEXTS = ["a red shape", "A  C# major chord, 120 bpm!", "it's naïve 日本 ok", "", " ".join(["shape"] * 90)]
TEXTS += ["x<s>y <mask>", "a\nnew  line\t tab ", "émoji 🎵!", "I'M don't we'll 3.14"]
MERGES = [
    ("s", "h"),
    ("a", "p"),
    ("sh", "ap"),
    ("shap", "e"),
    ("Ġ", "shape"),
    ("Ġ", "a"),
    ("r", "e"),
    ("Ġ", "re"),
]


def write_tokenizer(d):
    """A small RoBERTa-style vocab.json / merges.txt: specials, all 256 byte symbols, the merges."""
    vocab = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}
    for tok in [*byte_chars(), *("".join(m) for m in MERGES), "<mask>"]:
        vocab.setdefault(tok, len(vocab))
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "vocab.json"), "w", encoding="utf-8") as f:
        json.dump(vocab, f, ensure_ascii=False)
    with open(os.path.join(d, "merges.txt"), "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in MERGES))
    return vocab


def laion_modules():
    """laion_clap's model code, loaded as a package of its clap_module folder: the package's own
    __init__ pulls wget, webdataset and torchvision (whose PyPI build cannot import beside our
    torch), none of which the towers use. utils.py imports torchvision only for
    FrozenBatchNorm2d, so an empty stand-in module is present just while the files load."""
    spec = importlib.util.find_spec("laion_clap")
    if spec is None:
        pytest.skip("CLAP parity needs laion-clap (make test installs it with --no-deps)")
    import transformers  # noqa: F401  (imported first: it probes the real torchvision)

    root = os.path.dirname(spec.origin)
    pkg = types.ModuleType("laion_ref")
    pkg.__path__ = [os.path.join(root, "clap_module")]
    stand_in = {n: types.ModuleType(n) for n in ("torchvision", "torchvision.ops", "torchvision.ops.misc")}
    stand_in["torchvision.ops.misc"].FrozenBatchNorm2d = type("FrozenBatchNorm2d", (), {})
    saved = {n: sys.modules.get(n) for n in stand_in}
    sys.modules.update(stand_in, laion_ref=pkg)
    try:
        model = importlib.import_module("laion_ref.model")
        htsat = importlib.import_module("laion_ref.htsat")
    finally:
        for n, m in saved.items():
            if m is None:
                sys.modules.pop(n, None)
            else:
                sys.modules[n] = m
    # training/data.py imports a dataset stack; its audio functions need only torch and NumPy,
    # so those three definitions are compiled from its source and run as laion wrote them.
    import contextlib

    import torch

    src = open(os.path.join(root, "training", "data.py"), encoding="utf-8").read()
    keep = {"int16_to_float32", "float32_to_int16", "get_audio_features"}
    tree = ast.Module([n for n in ast.parse(src).body if getattr(n, "name", None) in keep], [])
    data = {"np": np, "torch": torch, "F": torch.nn.functional, "suppress": contextlib.suppress}
    exec(compile(tree, "laion_clap/training/data.py", "exec"), data)
    return model, htsat, types.SimpleNamespace(**data)


def randomise(module, torch, seed):
    """Every weight to a non-trivial random value (laion's init leaves near-constant outputs)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in module.named_parameters():
            if "spectrogram_extractor" in name or "logmel_extractor" in name:
                continue
            if name.endswith("relative_position_bias_table"):
                p.copy_(torch.randn(p.shape, generator=g))
            elif p.ndim >= 2:
                p.copy_(torch.randn(p.shape, generator=g) * p[0].numel() ** -0.5)
            elif "norm" in name.lower() or name.endswith("bn0.weight"):
                p.copy_(1 + 0.2 * torch.randn(p.shape, generator=g))
            else:
                p.copy_(0.2 * torch.randn(p.shape, generator=g))
        bn = module.audio_branch.bn0
        bn.running_mean.copy_(-40 + 5 * torch.randn(bn.running_mean.shape, generator=g))
        bn.running_var.copy_(20 + 10 * torch.rand(bn.running_var.shape, generator=g))


@pytest.fixture(scope="module")
def laion(tmp_path_factory):
    torch = pytest.importorskip("torch", reason="CLAP parity needs torch (the torch extra)")
    from transformers import RobertaConfig, RobertaModel, RobertaTokenizer

    model_mod, htsat_mod, data = laion_modules()
    tok_dir = str(tmp_path_factory.mktemp("roberta"))
    vocab = write_tokenizer(tok_dir)
    torch.manual_seed(0)
    audio_cfg = dict(model_type="HTSAT", model_name="tiny", sample_rate=48000, window_size=1024, hop_size=480)
    audio_cfg |= dict(fmin=50, fmax=14000, class_num=5, mel_bins=64, clip_samples=480000, audio_length=1024)
    # laion's CLAP class with its towers at test size (its constructor would first build a full
    # HTSAT-tiny, seconds of init, so the instance is assembled from the parts it would make).
    clap = model_mod.CLAP.__new__(model_mod.CLAP)
    torch.nn.Module.__init__(clap)
    clap.enable_fusion, clap.text_branch_type = False, "roberta"
    clap.audio_projection = torch.nn.Sequential(
        torch.nn.Linear(64, 24), torch.nn.ReLU(), torch.nn.Linear(24, 24)
    )
    clap.audio_transform = model_mod.MLPLayers(units=[24, 24, 24])
    clap.text_transform = model_mod.MLPLayers(units=[24, 24, 24])
    clap.logit_scale_a = torch.nn.Parameter(torch.ones([]))
    clap.logit_scale_t = torch.nn.Parameter(torch.ones([]))
    # its HTSAT class, and the RoBERTa its roberta branch loads (from_pretrained('roberta-base')
    # needs the hub; a tiny config stands in)
    clap.audio_branch = htsat_mod.HTSAT_Swin_Transformer(
        spec_size=256, patch_size=4, patch_stride=(4, 4), num_classes=5, embed_dim=8, depths=[2, 2, 2, 2],
        num_heads=[2, 2, 4, 4], window_size=8, config=model_mod.CLAPAudioCfp(**audio_cfg),
    )  # fmt: skip
    rcfg = RobertaConfig(
        vocab_size=len(vocab), hidden_size=128, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=64, max_position_embeddings=80, type_vocab_size=1, layer_norm_eps=1e-5,
        pad_token_id=1, bos_token_id=0, eos_token_id=2,
    )  # fmt: skip
    clap.text_branch = RobertaModel(rcfg, add_pooling_layer=True)
    clap.text_projection = torch.nn.Sequential(
        torch.nn.Linear(128, 24), torch.nn.ReLU(), torch.nn.Linear(24, 24)
    )
    randomise(clap, torch, 0)
    clap.eval()
    sd = {k: v.detach().numpy() for k, v in clap.state_dict().items()}
    ckpt = str(tmp_path_factory.mktemp("clap") / "tiny-clap.pt")
    torch.save({"state_dict": {f"module.{k}": v for k, v in clap.state_dict().items()}, "epoch": 1}, ckpt)
    hf_tok = RobertaTokenizer(os.path.join(tok_dir, "vocab.json"), os.path.join(tok_dir, "merges.txt"))
    return types.SimpleNamespace(
        torch=torch, clap=clap, sd=sd, ckpt=ckpt, tok_dir=tok_dir, hf_tok=hf_tok, data=data
    )


def test_tokenizer_matches_roberta_tokenizer(laion):
    ours = ClapTokenizer.from_dir(laion.tok_dir)
    theirs = laion.hf_tok(TEXTS, padding="max_length", truncation=True, max_length=77, return_tensors="np")
    ids, mask = ours(TEXTS)
    np.testing.assert_array_equal(ids, theirs["input_ids"])
    np.testing.assert_array_equal(mask, theirs["attention_mask"])
    assert ids[0, 1] != ids[0, 2]  # the merges did something: "Ġre" and "d" are separate ids
    assert ours.encode("shape") == [ours.vocab["shape"]]


def test_bicubic_resize_matches_torch(laion):
    torch = laion.torch
    x = np.random.default_rng(1).standard_normal((1, 1, 11, 3)).astype(np.float32)
    theirs = torch.nn.functional.interpolate(torch.from_numpy(x), (29, 3), mode="bicubic", align_corners=True)
    ours = clap_htsat.bicubic_matrix(11, 29) @ x[0, 0]
    np.testing.assert_allclose(ours, theirs[0, 0].numpy(), atol=1e-5)


@pytest.fixture(scope="module")
def ours(laion):
    return clap_load.load_clap(laion.ckpt, laion.tok_dir)


def test_audio_and_text_embeddings_match_laion(laion, ours):
    torch, data, clap = laion.torch, laion.data, ours
    import librosa

    rng = np.random.default_rng(2)
    t = np.arange(int(16000 * 2.5)) / 16000
    waves16 = [
        (0.5 * np.sin(2 * np.pi * 440 * t) + 0.05 * rng.standard_normal(len(t))).astype(np.float32),
        (1.3 * rng.standard_normal(16000 * 4)).astype(np.float32),  # clipped by the int16 round trip
    ]
    # laion's audio path at 48 kHz (what its librosa.load(sr=48000) gives): quantise, repeatpad.
    feats = []
    for w in waves16:
        w48 = librosa.resample(w, orig_sr=16000, target_sr=48000)
        x = torch.from_numpy(data.int16_to_float32(data.float32_to_int16(w48))).float()
        feats.append(data.get_audio_features({}, x, 480000, "rand_trunc", "repeatpad", None))
        ours_wave = clap_model.prepare_audio(w, 16000)
        np.testing.assert_array_equal(ours_wave, feats[-1]["waveform"].numpy())
    # The pooled embedding of random weights varies little between clips, so the tokens it
    # averages are compared as well (laion's final norm output, caught by a hook).
    tokens = []
    hook = laion.clap.audio_branch.norm.register_forward_hook(lambda m, i, o: tokens.append(o.numpy()))
    with torch.no_grad():
        ref_a = laion.clap.get_audio_embedding(feats).numpy()
    hook.remove()
    with torch.no_grad():
        theirs_tok = laion.hf_tok(
            TEXTS, padding="max_length", truncation=True, max_length=77, return_tensors="pt"
        )
        ref_t = laion.clap.get_text_embedding(dict(theirs_tok)).numpy()
    got_a = clap.embed_audio(waves16, 16000)
    got_t = clap.embed_text(TEXTS)
    mel = clap_htsat.log_mel(np.stack([f["waveform"].numpy() for f in feats]))
    htsat = clap_htsat.HTSAT(clap.cfg.audio)
    ours_tokens = jax.jit(lambda p, m: htsat.apply({"params": p}, m, pool=False))(
        clap.params["audio_branch"], mel
    )
    np.testing.assert_allclose(np.asarray(ours_tokens), tokens[0], atol=1e-4)
    np.testing.assert_allclose(got_a, ref_a, atol=1e-4)
    np.testing.assert_allclose(got_t, ref_t, atol=1e-5)
    np.testing.assert_allclose(clap.score(waves16, 16000, TEXTS[:2]), (ref_a * ref_t[:2]).sum(-1), atol=1e-4)
    assert "HTSAT-8" in clap.name and "tiny-clap.pt" in clap.name


def test_importer_names_every_bad_key_in_one_line(laion):
    sd = dict(laion.sd)
    del sd["audio_branch.layers.1.blocks.0.attn.qkv.weight"]
    sd["text_branch.pooler.dense.bias"] = np.zeros(7, np.float32)
    sd["audio_branch.surplus.weight"] = np.zeros(3, np.float32)
    with pytest.raises(UserError) as e:
        clap_load.params_from_state_dict(sd)
    msg = str(e.value)
    assert "\n" not in msg and "missing audio_branch.layers.1.blocks.0.attn.qkv.weight" in msg
    assert "unexpected audio_branch.surplus.weight" in msg
    assert re.search(r"text_branch\.pooler\.dense\.bias \(7,\) != \(128,\)", msg)


def test_importer_refuses_fusion_and_other_front_ends(laion):
    sd = dict(laion.sd) | {"audio_branch.fusion_model.local_att.0.weight": np.zeros((4, 4, 1, 1), np.float32)}
    with pytest.raises(UserError, match="only non-fusion checkpoints are supported"):
        clap_load.params_from_state_dict(sd)
    sd = dict(laion.sd)
    sd["audio_branch.logmel_extractor.melW"] = sd["audio_branch.logmel_extractor.melW"] * 1.1
    with pytest.raises(UserError, match="mel filterbank"):
        clap_load.params_from_state_dict(sd)
    with pytest.raises(UserError, match="not an HTSAT CLAP checkpoint"):
        clap_load.params_from_state_dict({k: v for k, v in laion.sd.items() if "patch_embed" not in k})


def test_repeat_pad_and_quantise():
    w = np.array([0.5, -2.0, 0.25], np.float32)
    got = clap_model.repeat_pad(clap_model.quantise(w), 8)
    q = np.array([16383, -32767, 8191]) / 32767.0
    np.testing.assert_allclose(got, np.concatenate([q, q, [0, 0]]).astype(np.float32))
    assert len(clap_model.repeat_pad(np.ones(20, np.float32), 8)) == 8


def test_clap_report_scores_each_kind_against_its_prompts(ours):
    from clipsonic_jax.audio_quality import clap_report

    rng = np.random.default_rng(3)
    a, b = (rng.uniform(-0.5, 0.5, 16000).astype(np.float32) for _ in range(2))
    rep = clap_report(ours, {"iq": [a, b], "zs": [b, a]}, [a, a], ["a red shape", "shape"], 16000)
    emb_a, emb_b = ours.embed_audio([a, b], 16000)
    emb_t = ours.embed_text(["a red shape", "shape"])
    assert rep["model"] == ours.name and rep["n"] == 2
    assert rep["clap"]["iq"] == pytest.approx((emb_a @ emb_t[0] + emb_b @ emb_t[1]) / 2, abs=1e-6)
    assert rep["clap"]["zs"] == pytest.approx((emb_b @ emb_t[0] + emb_a @ emb_t[1]) / 2, abs=1e-6)
    assert rep["clap"]["real"] == pytest.approx((emb_a @ emb_t[0] + emb_a @ emb_t[1]) / 2, abs=1e-6)


def test_evaluate_clap_flags_fail_in_one_line(laion, tmp_path, capsys):
    from clipsonic_jax import cli

    fusion = str(tmp_path / "fusion.pt")
    sd = {k: laion.torch.from_numpy(np.array(v)) for k, v in laion.sd.items()}
    sd["audio_branch.fusion_model.local_att.0.weight"] = laion.torch.zeros(4, 4, 1, 1)
    laion.torch.save({"state_dict": sd}, fusion)
    cases = [
        (["--clap", str(tmp_path / "none.pt"), "--clap-tokenizer", laion.tok_dir], "none.pt: no such file"),
        (["--clap", laion.ckpt], "--clap-tokenizer: no folder given"),
        (["--clap", laion.ckpt, "--clap-tokenizer", str(tmp_path)], "vocab.json: no such file"),
        (["--clap", fusion, "--clap-tokenizer", laion.tok_dir], "only non-fusion checkpoints are supported"),
    ]
    for flags, message in cases:
        with pytest.raises(SystemExit) as e:
            cli.main(["evaluate", "--checkpoint", "synthetic-tiny", *flags])
        err = capsys.readouterr().err
        assert e.value.code == 2 and message in err and err.count("\n") == 1, err

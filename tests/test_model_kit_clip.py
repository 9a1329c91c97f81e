"""Flax CLIP: HF safetensors names and layouts, and parity with transformers' PyTorch CLIPModel."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

from model_kit.clip_load import load_clip, load_params, save_params, tiny_hf_config
from model_kit.clip_model import CLIP, CLIPConfig
from music_codecs.errors import UserError

HF = tiny_hf_config(layers=2)
CFG = CLIPConfig.from_hf(HF)


def test_safetensors_round_trip_uses_hf_names_and_layouts(tmp_path):
    params = CLIP(CFG).init(jax.random.key(1), jnp.zeros((1, 32, 32, 3)), jnp.zeros((1, 4), jnp.int32))[
        "params"
    ]
    keys = save_params(params, tmp_path / "model.safetensors")
    t = load_file(tmp_path / "model.safetensors")
    assert len(keys) == 14 + 16 * (2 + 2)  # reference §3.3
    h, p = 32, 8
    assert t["vision_model.embeddings.patch_embedding.weight"].shape == (h, 3, p, p)
    assert t["vision_model.embeddings.position_embedding.weight"].shape == ((32 // p) ** 2 + 1, h)
    assert t["vision_model.pre_layrnorm.weight"].shape == (h,)
    assert t["vision_model.encoder.layers.1.mlp.fc1.weight"].shape == (2 * h, h)  # [out, in]
    assert t["text_model.embeddings.token_embedding.weight"].shape == (600, h)
    assert t["text_model.final_layer_norm.bias"].shape == (h,)
    assert t["visual_projection.weight"].shape == (16, h) and "visual_projection.bias" not in t
    assert t["logit_scale"].shape == ()
    fc1 = np.asarray(params["vision_model"]["encoder"]["layers_1"]["mlp"]["fc1"]["kernel"])
    np.testing.assert_array_equal(t["vision_model.encoder.layers.1.mlp.fc1.weight"], fc1.T)
    back = load_params(tmp_path / "model.safetensors", CFG)
    for a, b in zip(jax.tree.leaves(params), jax.tree.leaves(back)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    # position_ids buffers of old OpenAI conversions are ignored; a missing tensor is an error.
    t["text_model.embeddings.position_ids"] = np.arange(16)[None]
    del t["text_model.final_layer_norm.bias"]
    save_file(t, tmp_path / "bad.safetensors")
    with pytest.raises(UserError, match="final_layer_norm.bias"):
        load_params(tmp_path / "bad.safetensors", CFG)


def test_configs_of_released_models():
    b32, l14 = CLIPConfig.vit_b32(), CLIPConfig.vit_l14()
    assert (b32.num_patches + 1, b32.projection_dim) == (50, 512)
    assert (l14.num_patches + 1, l14.projection_dim, l14.vision.layers) == (257, 768, 24)
    with pytest.raises(UserError):
        CLIPConfig.from_hf({"text_config": {}})


@pytest.mark.parametrize("eos_token_id", [2, 599])
def test_parity_with_transformers_pytorch_clip(tmp_path, eos_token_id):
    torch = pytest.importorskip(
        "torch",
        reason="torch is not installed (it is the optional `torch` extra); the parity "
        "test needs transformers' PyTorch CLIPModel as the reference",
    )
    from transformers import CLIPConfig as HFConfig
    from transformers import CLIPModel

    hf = json.loads(json.dumps(HF))
    hf["text_config"]["eos_token_id"] = eos_token_id
    hf["vision_config"]["hidden_act"] = hf["text_config"]["hidden_act"] = "quick_gelu"
    torch.manual_seed(0)
    ref = CLIPModel(
        HFConfig(text_config=hf["text_config"], vision_config=hf["vision_config"], projection_dim=16)
    ).eval()
    with torch.no_grad():  # non-trivial norms and logit scale, so a swapped scale/bias shows
        for name, p in ref.named_parameters():
            if "norm" in name or "layrnorm" in name:
                p.add_(0.1 * torch.randn_like(p))
        ref.logit_scale.fill_(4.6052)
    ref.save_pretrained(tmp_path)
    ours = load_clip(tmp_path)
    rng = np.random.default_rng(0)
    pixels = rng.normal(size=(3, 3, 32, 32)).astype(np.float32)
    ids = rng.integers(1, 590, size=(3, 16)).astype(np.int64)
    ids[:, 0] = 598
    ids[0, 7], ids[1, 15], ids[2, 3] = 599, 599, 599
    ids[0, 8:] = 599
    with torch.no_grad():
        img_ref = ref.visual_projection(
            ref.vision_model(pixel_values=torch.tensor(pixels)).pooler_output
        ).numpy()
        txt_ref = ref.text_projection(ref.text_model(input_ids=torch.tensor(ids)).pooler_output).numpy()
        logits_ref = ref(
            input_ids=torch.tensor(ids), pixel_values=torch.tensor(pixels)
        ).logits_per_text.numpy()
    model = CLIP(ours.cfg)
    variables = {"params": ours.params}
    img = np.asarray(model.apply(variables, pixels.transpose(0, 2, 3, 1), method=CLIP.encode_image))
    txt = np.asarray(model.apply(variables, ids.astype(np.int32), method=CLIP.encode_text))
    _, _, logits = model.apply(variables, pixels.transpose(0, 2, 3, 1), ids.astype(np.int32))

    def rel(a, b):
        return np.abs(a - b).max() / np.abs(b).max()

    assert rel(img, img_ref) < 1e-5
    assert rel(txt, txt_ref) < 1e-5
    assert rel(np.asarray(logits), logits_ref) < 1e-5

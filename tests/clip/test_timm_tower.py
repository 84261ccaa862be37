"""OpenCLIP checkpoints whose image tower is a timm model (``timm_model_name``) load into simclip
with the features OpenCLIP computes (float32, 1e-5), in each head layout OpenCLIP builds."""

from __future__ import annotations

import json

import pytest
import torch
from open_clip.model import CLIP as OpenCLIPModel

from simclip.clip import load
from simclip.clip.timm_tower import TimmTower

from .reference_models import CAPTIONS, EMBED_DIM, TEXT_CFG, max_differences

pytest.importorskip("timm")
TOL = 1e-5
CASES = [  # (timm model, OpenCLIP vision_cfg settings, image side)
    ("resnet18", {}, 64),
    ("resnet18", {"timm_proj": "mlp", "timm_proj_bias": True}, 64),
    ("vit_tiny_patch16_224", {}, 224),  # OpenCLIP builds timm trunks at their default size
    ("vit_tiny_patch16_224", {"timm_pool": "token", "timm_proj": None}, 224),
]


def _reference(name: str, settings: dict, size: int) -> tuple[OpenCLIPModel, dict]:
    torch.manual_seed(0)
    vision = {"timm_model_name": name, "image_size": size, **settings}
    model = OpenCLIPModel(EMBED_DIM, vision, TEXT_CFG).eval()
    with torch.no_grad():  # move every value off its initialisation (zeros would hide errors)
        for param in model.parameters():
            param.add_(0.05 * torch.randn_like(param))
        for key, buf in model.named_buffers():
            if key.endswith("running_var"):
                buf.uniform_(0.5, 1.5)
            elif key.endswith("running_mean"):
                buf.normal_(0.0, 0.1)
    return model, {"embed_dim": EMBED_DIM, "vision_cfg": vision, "text_cfg": TEXT_CFG}


@pytest.mark.parametrize("name, settings, size", CASES)
def test_open_clip_timm_tower_loads_with_parity(tmp_path, name, settings, size):
    import open_clip

    reference, model_cfg = _reference(name, settings, size)
    torch.save(reference.state_dict(), tmp_path / "open_clip_pytorch_model.bin")
    (tmp_path / "open_clip_config.json").write_text(json.dumps({
        "model_cfg": model_cfg, "preprocess_cfg": {"mean": [0.5, 0.4, 0.3], "std": [0.2, 0.25, 0.3]}}))
    model, _ = load(tmp_path / "open_clip_pytorch_model.bin")
    assert isinstance(model.visual, TimmTower) and model.config.vision.encoder == name
    pre = model.preprocess_cfg
    assert (pre.image_size, pre.mean, pre.std) == (size, (0.5, 0.4, 0.3), (0.2, 0.25, 0.3))
    images = torch.randn(len(CAPTIONS), 3, size, size, generator=torch.Generator().manual_seed(1))
    tokens = open_clip.tokenize(CAPTIONS, context_length=TEXT_CFG["context_length"])
    diffs = max_differences(reference, model, images, tokens)
    assert max(diffs.values()) < TOL, diffs


def test_attention_pool_is_refused_naming_the_setting(tmp_path):
    reference, model_cfg = _reference("resnet18", {}, 64)
    torch.save(reference.state_dict(), tmp_path / "weights.pt")
    model_cfg["vision_cfg"]["timm_pool"] = "abs_attn"
    (tmp_path / "open_clip_config.json").write_text(json.dumps({"model_cfg": model_cfg}))
    with pytest.raises(ValueError, match="timm_pool='abs_attn'"):
        load(tmp_path / "weights.pt")


def test_missing_trunk_weight_is_named(tmp_path):
    reference, model_cfg = _reference("resnet18", {}, 64)
    state = reference.state_dict()
    del state["visual.trunk.layer1.0.conv1.weight"]
    torch.save(state, tmp_path / "weights.pt")
    (tmp_path / "open_clip_config.json").write_text(json.dumps({"model_cfg": model_cfg}))
    with pytest.raises(ValueError, match="visual.trunk.layer1.0.conv1.weight"):
        load(tmp_path / "weights.pt")

"""Named architectures have OpenAI/OpenCLIP's exact parameter shapes (built on the meta device: shapes
only, no memory or time spent on weights), and shape inference recovers each named config."""

from __future__ import annotations

import open_clip
import pytest
import torch
from open_clip.model import CLIP as OpenCLIPModel

from simclip.clip import CLIP, get_model_config, infer_config, list_models, to_openai_layout

NAMED = ["RN50", "RN101", "RN50x4", "RN50x16", "RN50x64", "ViT-B-32", "ViT-B-16", "ViT-L-14",
         "ViT-L-14-336", "ViT-H-14", "ViT-g-14", "ViT-bigG-14"]


def _shapes(module: torch.nn.Module) -> dict[str, tuple[int, ...]]:
    return {k: tuple(v.shape) for k, v in module.state_dict().items()}


def test_all_named_configs_listed():
    assert set(NAMED) | {"tiny-vit", "small-cnn-28"} <= set(list_models())


@pytest.mark.parametrize("name", NAMED)
def test_shapes_match_open_clip(name):
    with torch.device("meta"):
        ours = CLIP(get_model_config(name))
        ref = OpenCLIPModel(**open_clip.get_model_config(name))
    ours_openai = {k: tuple(v.shape) for k, v in to_openai_layout(ours.state_dict()).items()}
    assert ours_openai == _shapes(ref)


@pytest.mark.parametrize("name", NAMED)
def test_inference_recovers_named_config(name):
    config = get_model_config(name)
    with torch.device("meta"):
        state = CLIP(config).state_dict()
    inferred = infer_config(state, quick_gelu=config.quick_gelu)
    assert inferred.vision.kind == config.vision.kind
    for field in ("image_size", "width", "layers", "heads", "patch_size", "in_channels"):
        if field == "patch_size" and config.vision.kind == "resnet":
            continue
        assert getattr(inferred.vision, field) == getattr(config.vision, field), field
    assert round(inferred.vision.width * inferred.vision.mlp_ratio) == round(
        config.vision.width * config.vision.mlp_ratio)
    assert inferred.text == config.text
    assert inferred.embed_dim == config.embed_dim


def test_known_parameter_counts():
    # A guard on the totals (the shapes themselves are checked against OpenCLIP above).
    with torch.device("meta"):
        rn50 = CLIP(get_model_config("RN50"))
        vitb32 = CLIP(get_model_config("ViT-B-32"))
    assert sum(p.numel() for p in rn50.parameters()) == 102_007_137
    assert sum(p.numel() for p in vitb32.parameters()) == 151_277_313

"""Positional-embedding resampling for other image sizes, against OpenCLIP's resize and a direct
interpolation reference."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from open_clip.model import resize_pos_embed

from simclip.clip import create_model, load, resize_grid_embedding

from .reference_models import reference_model


def test_leading_token_kept_and_grid_interpolated():
    emb = torch.randn(1 + 4 * 4, 8, dtype=torch.float64)
    out = resize_grid_embedding(emb, 6)
    assert out.shape == (1 + 36, 8) and out.dtype == torch.float64
    assert torch.equal(out[0], emb[0])
    grid = emb[1:].float().reshape(1, 4, 4, 8).permute(0, 3, 1, 2)
    ref = F.interpolate(grid, size=(6, 6), mode="bicubic", align_corners=False, antialias=True)
    assert torch.allclose(out[1:].float(), ref.permute(0, 2, 3, 1).reshape(36, 8), atol=1e-6)
    assert torch.equal(resize_grid_embedding(emb, 4), emb)


def test_constant_grid_stays_constant():
    emb = torch.cat([torch.zeros(1, 3), torch.full((25, 3), 2.5)])
    assert torch.allclose(resize_grid_embedding(emb, 3)[1:], torch.full((9, 3), 2.5), atol=1e-6)


@pytest.mark.parametrize("new_size", [48, 16])  # larger and smaller grids (4x4 -> 6x6, 2x2)
def test_vit_matches_open_clip_resize(new_size):
    ref = reference_model("vit", quick_gelu=True)
    model, _ = load(ref.state_dict(), quick_gelu=True)
    model.set_image_size(new_size)
    sd = ref.state_dict()
    target = reference_model("vit", quick_gelu=True, vision_overrides={"image_size": new_size})
    resize_pos_embed(sd, target)
    assert torch.allclose(model.visual.positional_embedding, sd["visual.positional_embedding"],
                          atol=1e-6)
    assert model.config.vision.image_size == new_size == model.preprocess_cfg.image_size
    target.load_state_dict(sd)
    images = torch.randn(2, 3, new_size, new_size)
    with torch.no_grad():
        assert torch.allclose(model.encode_image(images), target.encode_image(images), atol=1e-5)


def test_resnet_attention_pool_resized():
    model = create_model("RN50", vision={"layers": [1, 1, 1, 1], "width": 16, "image_size": 64},
                         embed_dim=32, text={"layers": 1, "width": 64, "heads": 1}).eval()
    before = model.visual.attnpool.positional_embedding.detach().clone()
    model.set_image_size(96)
    after = model.visual.attnpool.positional_embedding
    assert after.shape == (1 + 9, 16 * 32) and torch.equal(after[0], before[0])
    with torch.no_grad():
        assert model.encode_image(torch.randn(2, 3, 96, 96)).shape == (2, 32)
    with pytest.raises(ValueError, match="multiple of 32"):
        model.set_image_size(100)


def test_bad_arguments():
    with pytest.raises(ValueError, match="square grid"):
        resize_grid_embedding(torch.zeros(1 + 5, 2), 3)
    with pytest.raises(ValueError, match="new_grid"):
        resize_grid_embedding(torch.zeros(1 + 4, 2), 0)
    with pytest.raises(ValueError, match="multiple of the patch size"):
        create_model("tiny-vit").set_image_size(30)

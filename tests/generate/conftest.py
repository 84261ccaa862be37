"""Tiny models for the generator tests: a 16-pixel VAE and a one-layer ViT CLIP, random weights."""

from __future__ import annotations

import pytest
import torch

from simclip.clip import CLIP, CLIPConfig
from simclip.generate import ClipGuide, Generator, GeneratorConfig

TINY_GENERATOR = GeneratorConfig(latent_dim=4, image_size=16, width=16)
TINY_CLIP = CLIPConfig(embed_dim=16, vision={"kind": "vit", "image_size": 16, "patch_size": 8, "width": 32,
                                             "layers": 1, "head_width": 16},
                       text={"context_length": 8, "width": 16, "heads": 2, "layers": 1})


@pytest.fixture(scope="package")
def generator() -> Generator:
    torch.manual_seed(0)
    return Generator(TINY_GENERATOR).eval()


@pytest.fixture(scope="package")
def clip_model() -> CLIP:
    torch.manual_seed(1)
    return CLIP(TINY_CLIP).eval()


@pytest.fixture(scope="package")
def guide(clip_model) -> ClipGuide:
    return ClipGuide(clip_model)

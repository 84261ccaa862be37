"""Shared images for the augmentation tests."""

from __future__ import annotations

import pytest
import torch


def seeded(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.fixture
def rgb_batch() -> torch.Tensor:
    """Float ``[6, 3, 16, 16]`` with smooth colour structure (so crops and rotations differ)."""
    ys, xs = torch.meshgrid(torch.linspace(0, 1, 16), torch.linspace(0, 1, 16), indexing="ij")
    base = torch.stack([xs, ys, (xs * ys).sqrt()])
    noise = torch.rand(6, 3, 16, 16, generator=seeded(123)) * 0.3
    return (base.unsqueeze(0) * 0.7 + noise).clamp(0, 1)


@pytest.fixture
def gray_batch() -> torch.Tensor:
    """Float ``[6, 1, 12, 12]`` of random gray levels."""
    return torch.rand(6, 1, 12, 12, generator=seeded(7))

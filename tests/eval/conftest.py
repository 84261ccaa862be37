"""Synthetic data shared by the evaluation tests."""

from __future__ import annotations

import pytest
import torch

Split = tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]


def gaussian_splits(
    n_train: int, n_test: int, num_classes: int, dim: int, spread: float, seed: int = 0
) -> Split:
    """Train/test features around shared random class means (unit noise), with their labels.

    ``n_train`` / ``n_test`` are points per class; a larger ``spread`` separates the classes more.
    """
    generator = torch.Generator().manual_seed(seed)
    means = torch.randn(num_classes, dim, generator=generator) * spread

    def sample(per_class: int) -> tuple[torch.Tensor, torch.Tensor]:
        labels = torch.arange(num_classes).repeat_interleave(per_class)
        labels = labels[torch.randperm(labels.shape[0], generator=generator)]
        return means[labels] + torch.randn(labels.shape[0], dim, generator=generator), labels

    return (*sample(n_train), *sample(n_test))


@pytest.fixture
def separable() -> Split:
    """Well-separated clusters: 5 classes in 16 dimensions, 60 train and 30 test points per class."""
    return gaussian_splits(60, 30, num_classes=5, dim=16, spread=4.0)

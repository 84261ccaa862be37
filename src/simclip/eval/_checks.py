"""Argument validation shared by the evaluation protocols.

Every protocol takes feature matrices and integer labels; checking them here gives one wording for
the errors (naming the argument) instead of a shape error deep inside a matmul.
"""

from __future__ import annotations

import torch
from torch import Tensor


def check_features(name: str, features: object, dim: int | None = None) -> Tensor:
    """Return ``features`` as a float32 CPU tensor ``[N, F]`` or raise naming ``name``.

    ``dim``, when given, is the feature width it must have (to match another matrix).
    """
    if not isinstance(features, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(features).__name__}")
    if features.ndim != 2:
        raise ValueError(f"{name} must have shape [N, F], got shape {tuple(features.shape)}")
    if not features.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got dtype {features.dtype}")
    if features.shape[0] == 0:
        raise ValueError(f"{name} is empty (0 rows)")
    if dim is not None and features.shape[1] != dim:
        raise ValueError(
            f"{name} has feature width {features.shape[1]}, expected {dim} "
            "to match the other features"
        )
    if not torch.isfinite(features).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return features.detach().to(device="cpu", dtype=torch.float32)


def check_labels(name: str, labels: object, length: int, num_classes: int | None = None) -> Tensor:
    """Return ``labels`` as an int64 CPU tensor ``[length]`` of values in ``[0, num_classes)``."""
    if not isinstance(labels, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(labels).__name__}")
    if labels.ndim != 1:
        raise ValueError(f"{name} must have shape [N], got shape {tuple(labels.shape)}")
    if labels.is_floating_point() or labels.is_complex() or labels.dtype == torch.bool:
        raise TypeError(f"{name} must be an integer tensor, got dtype {labels.dtype}")
    if labels.shape[0] != length:
        raise ValueError(
            f"{name} has {labels.shape[0]} entries but the features have {length} rows"
        )
    labels = labels.detach().to(device="cpu", dtype=torch.int64)
    if labels.numel() and int(labels.min()) < 0:
        raise ValueError(f"{name} contains negative class indices (min {int(labels.min())})")
    if num_classes is not None and labels.numel() and int(labels.max()) >= num_classes:
        raise ValueError(
            f"{name} contains class index {int(labels.max())} but num_classes is {num_classes}"
        )
    return labels


def check_positive_int(name: str, value: object) -> int:
    """Return ``value`` if it is an ``int`` >= 1 (``bool`` excluded), else raise naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value <= 0:
        raise ValueError(f"{name} must be >= 1, got {value}")
    return value


def check_positive_float(name: str, value: object) -> float:
    """Return ``value`` as a float if it is a finite real number > 0, else raise naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    value = float(value)
    if not value > 0 or value == float("inf"):
        raise ValueError(f"{name} must be a finite number > 0, got {value}")
    return value


def resolve_num_classes(num_classes: int | None, *labels: Tensor) -> int:
    """``num_classes`` if given, else one more than the largest label seen in any of ``labels``."""
    if num_classes is not None:
        return check_positive_int("num_classes", num_classes)
    return max(int(y.max()) for y in labels if y.numel()) + 1

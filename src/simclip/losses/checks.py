"""Input validation shared by the contrastive losses.

Every loss checks its arguments up front so that a wrong shape, dtype or temperature is reported
with the argument's name instead of surfacing as a broadcasting error deep inside a matrix product.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor


def check_features(name: str, x: object, ndim: int = 2) -> Tensor:
    """Check that ``x`` is a floating-point tensor with ``ndim`` dimensions and return it."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got dtype {x.dtype}")
    if x.dim() != ndim:
        raise ValueError(f"{name} must have {ndim} dimensions, got shape {tuple(x.shape)}")
    if x.shape[0] == 0 or (ndim > 1 and x.shape[-1] == 0):
        raise ValueError(f"{name} must not be empty, got shape {tuple(x.shape)}")
    return x


def check_same_shape(name_a: str, a: Tensor, name_b: str, b: Tensor) -> None:
    """Raise if two feature tensors differ in shape or device."""
    if a.shape != b.shape:
        raise ValueError(
            f"{name_a} and {name_b} must have the same shape, got {tuple(a.shape)} and {tuple(b.shape)}"
        )
    if a.device != b.device:
        raise ValueError(f"{name_a} and {name_b} must be on the same device, got {a.device} and {b.device}")


def check_positive(name: str, value: object) -> float:
    """Check that ``value`` is a finite real number > 0 (a temperature or margin) and return it."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {value}")
    return float(value)


def check_scalar(name: str, value: object, like: Tensor) -> Tensor:
    """Turn a float or a one-element tensor into a 0-dim tensor in ``like``'s dtype and device.

    Tensor values are not inspected (that would synchronise an accelerator); gradients flow through.
    """
    if isinstance(value, Tensor):
        if value.numel() != 1:
            raise ValueError(f"{name} must be a scalar (0-dim or one-element tensor), got shape {tuple(value.shape)}")
        if not value.is_floating_point():
            raise TypeError(f"{name} must be a floating-point tensor, got dtype {value.dtype}")
        return value.reshape(()).to(device=like.device, dtype=like.dtype)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a float or a scalar tensor, got {type(value).__name__}")
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    return torch.tensor(float(value), dtype=like.dtype, device=like.device)


def check_block_size(block_size: object) -> int | None:
    """Check ``block_size``: None (automatic) or a positive int."""
    if block_size is None:
        return None
    if isinstance(block_size, bool) or not isinstance(block_size, int):
        raise TypeError(f"block_size must be None or a positive int, got {type(block_size).__name__}")
    if block_size <= 0:
        raise ValueError(f"block_size must be None or a positive int, got {block_size}")
    return block_size


def check_optional_bool(name: str, value: object) -> bool | None:
    """Check an optional flag: None (automatic) or a bool."""
    if value is not None and not isinstance(value, bool):
        raise TypeError(f"{name} must be None or a bool, got {type(value).__name__}")
    return value


def compute_dtype(*tensors: Tensor) -> torch.dtype:
    """The dtype the loss statistics are computed in: float64 if any input is float64, else float32.

    Half-precision inputs are promoted so that log-sum-exp statistics and the logits themselves
    keep float32 precision (a bf16 logit of 100 is only known to within 0.5).
    """
    return torch.float64 if any(t.dtype == torch.float64 for t in tensors) else torch.float32

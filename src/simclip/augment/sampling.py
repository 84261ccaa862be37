"""Per-sample random parameter draws from a CPU ``torch.Generator``.

Every draw happens on the CPU so that a seed gives the same parameters whatever device the images
live on; ops move the (small) parameter tensors to the images' device afterwards. ``generator=None``
uses torch's global CPU generator.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor


def check_generator(generator: torch.Generator | None) -> None:
    """Raise ``TypeError``/``ValueError`` unless ``generator`` is ``None`` or a CPU ``torch.Generator``."""
    if generator is None:
        return
    if not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator or None, got {type(generator).__name__}")
    if generator.device.type != "cpu":
        raise ValueError(
            f"generator must live on the CPU (parameters are drawn there and moved to the images' "
            f"device), got a generator on {generator.device}"
        )


def check_probability(p: float, name: str = "p") -> float:
    """Return ``p`` as a float after checking ``0 <= p <= 1``."""
    p = float(p)
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"{name} must be in [0, 1], got {p}")
    return p


def check_range(value: Any, name: str, low: float = -math.inf) -> tuple[float, float]:
    """Return ``value`` as a ``(lo, hi)`` float pair with ``low <= lo <= hi``."""
    try:
        lo, hi = (float(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a pair (min, max) of numbers, got {value!r}") from None
    if not low <= lo <= hi:
        raise ValueError(f"{name} must satisfy {low} <= min <= max, got {value!r}")
    return lo, hi


def bernoulli(batch: int, p: float, generator: torch.Generator | None) -> Tensor:
    """``bool`` ``Tensor[batch]``: each entry ``True`` with probability ``p``, independently.

    ``p`` of exactly 0 or 1 draws nothing, so adding a certain op does not shift the random
    stream of the ops after it.
    """
    if p >= 1.0:
        return torch.ones(batch, dtype=torch.bool)
    if p <= 0.0:
        return torch.zeros(batch, dtype=torch.bool)
    return torch.rand(batch, generator=generator) < p


def uniform(
    shape: int | tuple[int, ...], low: float, high: float, generator: torch.Generator | None
) -> Tensor:
    """``float32`` tensor of the given shape, uniform on ``[low, high)``."""
    shape = (shape,) if isinstance(shape, int) else shape
    return torch.rand(shape, generator=generator).mul_(high - low).add_(low)


def randint_inclusive(high: Tensor, generator: torch.Generator | None) -> Tensor:
    """Per-sample integers: entry ``b`` is uniform on ``{0, ..., high[b]}``.

    Args:
        high: ``Tensor[B]`` of non-negative integers (any numeric dtype).

    Returns:
        ``int64`` ``Tensor[B]``.
    """
    u = torch.rand(high.shape, generator=generator, dtype=torch.float64)
    # floor(u * (n + 1)) is uniform on {0..n}; the clamp guards the measure-zero u -> 1 rounding.
    n = high.to(torch.float64)
    return torch.minimum(torch.floor(u * (n + 1)), n).to(torch.int64)


def permutations(batch: int, n: int, generator: torch.Generator | None) -> Tensor:
    """``int64`` ``Tensor[batch, n]``: an independent uniform permutation of ``range(n)`` per row."""
    return torch.rand(batch, n, generator=generator).argsort(dim=1)

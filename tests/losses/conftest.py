"""Helpers for comparing a loss and its gradients with a reference."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pytest
import torch
from torch import Tensor


def _value_and_grads(fn: Callable[..., Tensor], *inputs: Tensor) -> tuple[Tensor, list[Tensor]]:
    """fn(*inputs) and its gradients w.r.t. every floating-point input, on fresh leaf copies."""
    leaves = [x.detach().clone().requires_grad_(x.is_floating_point()) for x in inputs]
    value = fn(*leaves)
    wanted = [x for x in leaves if x.requires_grad]
    grads = torch.autograd.grad(value, wanted)
    return value.detach(), [g.detach() for g in grads]


def _assert_same(
    got: tuple[Tensor, Sequence[Tensor]], want: tuple[Tensor, Sequence[Tensor]], atol: float, rtol: float = 0.0
) -> None:
    torch.testing.assert_close(got[0].double(), want[0].double(), atol=atol, rtol=rtol)
    assert len(got[1]) == len(want[1])
    for index, (g, w) in enumerate(zip(got[1], want[1])):
        torch.testing.assert_close(g.double(), w.double(), atol=atol, rtol=rtol, msg=lambda m: f"grad {index}: {m}")


@pytest.fixture
def value_and_grads() -> Callable[..., tuple[Tensor, list[Tensor]]]:
    return _value_and_grads


@pytest.fixture
def assert_same() -> Callable[..., None]:
    return _assert_same

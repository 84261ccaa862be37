"""Frozen-feature classification of an encode function: :func:`simclip.eval.evaluate` with the
``linear`` and ``knn`` protocols, for callers that hold ``encode`` rather than a model."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

import torch
from torch import Tensor

from simclip.eval.features import Encode
from simclip.eval.protocols import CLASSIFICATION_PROTOCOLS, evaluate


class LabelledImages(Protocol):
    """What the evaluators need of a dataset: uint8 ``images`` [N, C, H, W], ``labels`` [N]."""

    images: Tensor
    labels: Tensor


class _Encoder:
    """The model interface around a bare ``encode`` (a bound method still switches its module to
    eval mode during extraction)."""

    def __init__(self, encode: Encode) -> None:
        self.encode_image = encode


def evaluate_classification(
    model_encode: Encode,
    train_dataset: LabelledImages,
    test_dataset: LabelledImages,
    protocols: str | Sequence[str] = ("linear", "knn"),
    *,
    batch_size: int = 512,
    device: str | torch.device = "cpu",
    transform: Callable[[Tensor], Tensor] | None = None,
    progress: bool = False,
    options: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, float]:
    """:func:`~simclip.eval.evaluate` of ``model_encode`` (image batch ``[B, C, H, W]`` -> features
    ``[B, F]``, e.g. ``model.encode_image``) with ``protocols`` from ``CLASSIFICATION_PROTOCOLS``
    (``"knn"``, ``"linear"``); ``transform`` is applied as given (no model preprocessing)."""
    names = (protocols,) if isinstance(protocols, str) else tuple(protocols)
    if not names or any(p not in CLASSIFICATION_PROTOCOLS for p in names):
        raise ValueError(f"protocols must name some of {sorted(CLASSIFICATION_PROTOCOLS)}, got {list(names)}")
    return evaluate(_Encoder(model_encode), names, train=train_dataset, test=test_dataset, batch_size=batch_size,
                    device=device, transform=transform, progress=progress, options=options)

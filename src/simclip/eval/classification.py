"""Frozen-feature classification: extract features once per split, then run several protocols.

Encoding is the expensive part of an evaluation, so the kNN monitor and the linear probe share one
pass over each split rather than each evaluator encoding the images again.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

import torch
from torch import Tensor

from simclip.eval.features import Encode, extract_features
from simclip.eval.knn import knn_classify
from simclip.eval.linear import linear_probe


class LabelledImages(Protocol):
    """What the evaluators need of a dataset: uint8 ``images`` [N, C, H, W], ``labels`` [N]."""

    images: Tensor
    labels: Tensor


FeatureProtocol = Callable[..., dict[str, float]]

#: Protocols on features ``(train_features, train_labels, test_features, test_labels, **options)``.
CLASSIFICATION_PROTOCOLS: dict[str, FeatureProtocol] = {
    "knn": knn_classify,
    "linear": linear_probe,
}


def _split(name: str, dataset: object) -> tuple[Tensor, Tensor]:
    missing = [attr for attr in ("images", "labels") if not hasattr(dataset, attr)]
    if missing:
        kind = type(dataset).__name__
        raise TypeError(f"{name} must have .images and .labels; {kind} lacks .{missing[0]}")
    return dataset.images, dataset.labels


def evaluate_classification(
    model_encode: Encode,
    train_dataset: LabelledImages,
    test_dataset: LabelledImages,
    protocols: Sequence[str] = ("linear", "knn"),
    *,
    batch_size: int = 512,
    device: str | torch.device = "cpu",
    transform: Callable[[Tensor], Tensor] | None = None,
    progress: bool = False,
    options: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, float]:
    """Run the requested classification ``protocols`` on features from ``model_encode``.

    Args:
        model_encode: image batch ``[B, C, H, W]`` -> features ``[B, F]`` (``model.encode_image``).
        train_dataset, test_dataset: objects with ``.images`` and ``.labels``.
        protocols: names from ``CLASSIFICATION_PROTOCOLS`` (``"knn"``, ``"linear"``).
        batch_size, device, transform: passed to ``extract_features``.
        progress: report feature extraction and the linear probe's fits on stderr.
        options: per-protocol keyword arguments,
            e.g. ``{"knn": {"k": 20}, "linear": {"c_grid": [1.0]}}``.

    Returns:
        The protocols' results merged into one dict (``knn_top1``, ``linear_top1``, ...).
    """
    if isinstance(protocols, str):
        protocols = (protocols,)
    unknown = [p for p in protocols if p not in CLASSIFICATION_PROTOCOLS]
    if unknown or not protocols:
        raise ValueError(
            f"protocols must name some of {sorted(CLASSIFICATION_PROTOCOLS)}, got {list(protocols)}"
        )
    options = dict(options or {})
    extra = sorted(set(options) - set(protocols))
    if extra:
        raise ValueError(f"options given for protocols not requested: {extra}")
    train_images, train_labels = _split("train_dataset", train_dataset)
    test_images, test_labels = _split("test_dataset", test_dataset)
    kwargs = dict(batch_size=batch_size, device=device, transform=transform)
    train = extract_features(model_encode, train_images, progress=progress and "features (train)", **kwargs)
    test = extract_features(model_encode, test_images, progress=progress and "features (test)", **kwargs)
    results: dict[str, float] = {}
    for name in protocols:
        protocol = CLASSIFICATION_PROTOCOLS[name]
        kw = {"progress": progress} if name == "linear" else {}  # the slow one: many L-BFGS fits
        kw.update(options.get(name, {}))
        results.update(protocol(train, train_labels, test, test_labels, **kw))
    return results

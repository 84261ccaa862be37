"""Classification metrics on class scores: top-k accuracy and mean per-class recall, in percent."""

from __future__ import annotations

import torch
from torch import Tensor


def topk_correct(scores: Tensor, labels: Tensor, k: int) -> Tensor:
    """Boolean ``[N]``: whether ``labels[i]`` is among the ``k`` highest of ``scores[i]``.

    ``scores`` is ``[N, C]``; ``k`` is clamped to ``C`` so that "top-5" over fewer than five classes
    means top-``C`` (always correct) rather than an error.
    """
    k = min(k, scores.shape[1])
    top = scores.topk(k, dim=1).indices
    return (top == labels[:, None]).any(dim=1)


def mean_per_class_recall(predictions: Tensor, labels: Tensor) -> float:
    """Mean over the classes present in ``labels`` of the share of each predicted right, in %.

    This is scikit-learn's ``balanced_accuracy_score``, the metric CLIP_benchmark reports for
    class-imbalanced datasets. ``predictions`` and ``labels`` are int ``[N]``.
    """
    classes, counts = labels.unique(return_counts=True)
    hits = torch.zeros(int(labels.max()) + 1, dtype=torch.float64)
    hits.index_add_(0, labels, (predictions == labels).to(torch.float64))
    return float((hits[classes] / counts).mean() * 100.0)


def percent(correct: Tensor) -> float:
    """Fraction of ``True`` in a boolean ``[N]`` tensor, in percent."""
    return float(correct.to(torch.float64).mean() * 100.0)

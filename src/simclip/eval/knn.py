"""Weighted k-nearest-neighbour classification of frozen features (Wu et al. 2018, InstDisc).

Each test point takes its ``k`` most cosine-similar training points; neighbour ``i`` votes for its
class with weight ``exp(s_i / temperature)``; classes are ranked by summed votes. This is the
monitor SimCLR-family papers report alongside the linear probe (k=200, temperature=0.07).
"""

from __future__ import annotations

import warnings

import torch
import torch.nn.functional as F
from torch import Tensor

from simclip.eval._checks import (
    check_features,
    check_labels,
    check_positive_float,
    check_positive_int,
    resolve_num_classes,
)
from simclip.eval.metrics import percent, topk_correct


def knn_votes(
    train_features: Tensor,
    train_labels: Tensor,
    test_features: Tensor,
    k: int,
    temperature: float,
    num_classes: int,
) -> Tensor:
    """Summed neighbour votes ``[M, num_classes]`` for L2-normalised test rows ``[M, F]``.

    ``train_features`` ``[N, F]`` must be L2-normalised too and ``k <= N``. A class with no
    neighbour among the ``k`` gets ``-inf`` rather than 0, so that it can never count as a top-5
    hit by winning a tie among unvoted classes (and an underflowed ``exp`` is still a vote).
    """
    sims, idx = (test_features @ train_features.T).topk(k, dim=1)
    weights = (sims / temperature).exp()
    neighbour_labels = train_labels[idx]
    votes = torch.zeros(test_features.shape[0], num_classes, dtype=weights.dtype)
    votes.scatter_add_(1, neighbour_labels, weights)
    voted = torch.zeros_like(votes, dtype=torch.bool).scatter_(1, neighbour_labels, True)
    return votes.masked_fill_(~voted, float("-inf"))


def knn_classify(
    train_features: Tensor,
    train_labels: Tensor,
    test_features: Tensor,
    test_labels: Tensor,
    k: int = 200,
    temperature: float = 0.07,
    num_classes: int | None = None,
    batch_size: int = 1024,
) -> dict[str, float]:
    """Weighted kNN accuracy of ``test_features`` against a labelled ``train_features`` bank.

    Args:
        train_features: ``[N, F]``; train_labels: int ``[N]``.
        test_features: ``[M, F]``; test_labels: int ``[M]``.
        k: neighbours per query; clamped to ``N`` with a warning when larger.
        temperature: vote weight is ``exp(cosine / temperature)``.
        num_classes: defaults to one more than the largest label in either split.
        batch_size: test rows per similarity block, so memory is ``batch_size * N``.

    Returns:
        ``{"knn_top1", "knn_top5"}`` in percent; top-5 is top-``min(5, num_classes)``, and a class
        that no neighbour voted for is never a hit.
    """
    train = check_features("train_features", train_features)
    test = check_features("test_features", test_features, dim=train.shape[1])
    train_y = check_labels("train_labels", train_labels, train.shape[0], num_classes)
    test_y = check_labels("test_labels", test_labels, test.shape[0], num_classes)
    k = check_positive_int("k", k)
    temperature = check_positive_float("temperature", temperature)
    check_positive_int("batch_size", batch_size)
    num_classes = resolve_num_classes(num_classes, train_y, test_y)
    if k > train.shape[0]:
        n = train.shape[0]
        warnings.warn(f"k={k} exceeds the {n} training points; using k={n}", stacklevel=2)
        k = train.shape[0]
    train = F.normalize(train, dim=1)
    top1, top5 = [], []
    for rows, y in zip(F.normalize(test, dim=1).split(batch_size), test_y.split(batch_size)):
        votes = knn_votes(train, train_y, rows, k, temperature, num_classes)
        voted = votes.gather(1, y[:, None])[:, 0] > float("-inf")
        top1.append(topk_correct(votes, y, 1) & voted)
        top5.append(topk_correct(votes, y, 5) & voted)
    return {"knn_top1": percent(torch.cat(top1)), "knn_top5": percent(torch.cat(top5))}


"""Linear-probe evaluation of frozen features (Radford et al. 2021, CLIP, Appendix A.3).

Protocol: standardise features with the training statistics; fit L2-regularised multinomial
logistic regression with L-BFGS; choose the regularisation on a held-out part of the training split
by a log-grid sweep followed by a finer search around the best value (the paper sweeps lambda over
1e-6..1e6 and refines with a parametric binary search); refit on the whole training split with the
chosen value and report test accuracy. Regularisation is expressed as scikit-learn's ``C``
(inverse strength, ``lambda = 1 / (C N)`` in the mean-loss form).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
from torch import Tensor

from simclip.eval._checks import (
    check_features,
    check_labels,
    check_positive_int,
    resolve_num_classes,
)
from simclip.eval.logistic_regression import SoftmaxClassifier, fit_logistic_regression
from simclip.eval.metrics import percent, topk_correct
from simclip.progress import ProgressReporter

# One point per decade across the paper's 1e-6..1e6 range.
DEFAULT_C_GRID: tuple[float, ...] = tuple(10.0**e for e in range(-6, 7))


def stratified_split(labels: Tensor, val_fraction: float, seed: int) -> tuple[Tensor, Tensor]:
    """Indices ``(fit, val)`` holding out ``round(val_fraction * n_c)`` rows of each class ``c``.

    Stratifying keeps rare classes in both parts; a class keeps at least one row in ``fit``.
    """
    generator = torch.Generator().manual_seed(seed)
    order = torch.randperm(labels.shape[0], generator=generator)
    fit, val = [], []
    for cls in labels.unique():
        rows = order[labels[order] == cls]
        n_val = min(round(val_fraction * rows.shape[0]), rows.shape[0] - 1)
        val.append(rows[:n_val])
        fit.append(rows[n_val:])
    return torch.cat(fit).sort().values, torch.cat(val).sort().values


def _standardize(train: Tensor, *others: Tensor) -> list[Tensor]:
    mean, std = train.mean(0), train.std(0, correction=0)  # as StandardScaler
    # Constant features (e.g. dead ReLU units) would divide by zero; leave them centred at zero.
    std = torch.where(std > 1e-6 * std.max().clamp_min(1e-12), std, torch.ones_like(std))
    return [(x - mean) / std for x in (train, *others)]


def _val_score(clf: SoftmaxClassifier, features: Tensor, labels: Tensor) -> tuple[float, float]:
    """``(accuracy, -cross_entropy)``: accuracy decides, the loss breaks ties (common at 100%)."""
    logits = clf.logits(features)
    accuracy = percent(logits.argmax(1) == labels)
    return accuracy, -float(torch.nn.functional.cross_entropy(logits, labels))


def select_c(
    fit: tuple[Tensor, Tensor],
    val: tuple[Tensor, Tensor],
    num_classes: int,
    c_grid: Sequence[float],
    refine_steps: int = 3,
    max_iter: int = 1000,
    on_fit: Callable[[float], None] | None = None,
) -> tuple[float, SoftmaxClassifier]:
    """Best ``C`` on ``val``: a sweep over ``c_grid``, then ``refine_steps`` bisections (log space).

    The sweep runs from strong to weak regularisation, warm-starting each fit from the previous
    solution (a regularisation path), which keeps the search cheap. The refinement is a bracketing
    search on the (assumed unimodal) validation score: with the best point and its two neighbours
    as the bracket, each round fits the midpoint of the wider half (of the half towards the
    better neighbour when both are equal) and shrinks the bracket around whichever is better,
    so each round costs one fit. Returns the chosen ``C`` and the classifier fitted on ``fit``.
    ``on_fit(C)`` is called after each fit (``len(c_grid) + refine_steps`` calls at most).
    """
    scores: dict[float, tuple[float, float]] = {}
    models: dict[float, SoftmaxClassifier] = {}
    values = {math.log10(c): float(c) for c in c_grid}

    def evaluate(log_c: float, init: SoftmaxClassifier | None) -> None:
        c = values.setdefault(log_c, 10.0**log_c)
        models[log_c] = fit_logistic_regression(*fit, num_classes, c, max_iter=max_iter, init=init)
        scores[log_c] = _val_score(models[log_c], *val)
        if on_fit is not None:
            on_fit(c)

    grid = sorted(values)
    for i, log_c in enumerate(grid):
        evaluate(log_c, models[grid[i - 1]] if i else None)
    i = max(range(len(grid)), key=lambda j: scores[grid[j]])
    lo, best, hi = grid[i - 1] if i else None, grid[i], grid[i + 1] if i + 1 < len(grid) else None
    for _ in range(refine_steps if len(grid) > 1 else 0):
        side = _probe_side(lo, best, hi, scores)
        edge = hi if side > 0 else lo
        assert edge is not None  # _probe_side points to a side that exists
        probe = (best + edge) / 2
        evaluate(probe, models[best])
        if scores[probe] > scores[best]:
            lo, best, hi = (best, probe, hi) if side > 0 else (lo, probe, best)
        elif side > 0:
            hi = probe
        else:
            lo = probe
    return values[best], models[best]


def _probe_side(
    lo: float | None, best: float, hi: float | None, scores: dict[float, tuple[float, float]]
) -> int:
    """+1 to probe between ``best`` and ``hi``, -1 between ``lo`` and ``best``."""
    if lo is None or hi is None:
        return 1 if lo is None else -1
    left, right = best - lo, hi - best
    if not math.isclose(left, right):
        return -1 if left > right else 1
    return -1 if scores[lo] > scores[hi] else 1


def linear_probe(
    train_features: Tensor,
    train_labels: Tensor,
    test_features: Tensor,
    test_labels: Tensor,
    *,
    val_fraction: float = 0.2,
    seed: int = 0,
    c_grid: Sequence[float] | None = None,
    max_iter: int = 1000,
    refine_steps: int = 3,
    num_classes: int | None = None,
    dtype: torch.dtype = torch.float32,
    progress: bool = False,
) -> dict[str, float]:
    """CLIP's linear-probe accuracy: logistic regression on frozen, standardised features.

    Args:
        train_features: ``[N, F]``; train_labels: int ``[N]`` (at least two classes).
        test_features: ``[M, F]``; test_labels: int ``[M]``.
        val_fraction: share of each training class held out to choose ``C``.
        seed: seed of the held-out split.
        c_grid: candidate ``C`` values for the sweep (default ``1e-6 .. 1e6``, one per decade);
            a single value skips the search and is used as is.
        max_iter: L-BFGS iterations per fit.
        refine_steps: bisection rounds (one fit each) around the best grid value.
        num_classes: defaults to one more than the largest label in either split.
        dtype: float32 (default, fast) or float64 for the fits.
        progress: report the fits on stderr (a bar on a terminal, a line every 10 s elsewhere).

    Returns:
        ``{"linear_top1", "linear_top5", "linear_c"}``; accuracies in percent, top-5 is
        top-``min(5, num_classes)``, ``linear_c`` the chosen scikit-learn ``C``.
    """
    train = check_features("train_features", train_features)
    test = check_features("test_features", test_features, dim=train.shape[1])
    train_y = check_labels("train_labels", train_labels, train.shape[0], num_classes)
    test_y = check_labels("test_labels", test_labels, test.shape[0], num_classes)
    check_positive_int("max_iter", max_iter)
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction}")
    if dtype not in (torch.float32, torch.float64):
        raise ValueError(f"dtype must be torch.float32 or torch.float64, got {dtype}")
    c_grid = DEFAULT_C_GRID if c_grid is None else tuple(c_grid)
    if not c_grid or any(not c > 0 for c in c_grid):
        raise ValueError(f"c_grid must be a non-empty sequence of positive numbers, got {c_grid}")
    if train_y.unique().numel() < 2:
        raise ValueError("train_labels must contain at least two classes for a linear probe")
    num_classes = resolve_num_classes(num_classes, train_y, test_y)
    train, test = (x.to(dtype) for x in _standardize(train, test))

    searched = len(c_grid) > 1
    fits = 1 + (len(c_grid) + refine_steps if searched else 0)  # the search, then the final fit
    with ProgressReporter(fits, "linear probe", unit="fit", enabled=progress) as report:
        if not searched:
            c, init = float(c_grid[0]), None
        else:
            fit_idx, val_idx = stratified_split(train_y, val_fraction, seed)
            if val_idx.numel() == 0:
                raise ValueError("val_fraction leaves no held-out rows to choose C; add training data")
            fit, val = (train[fit_idx], train_y[fit_idx]), (train[val_idx], train_y[val_idx])
            c, init = select_c(fit, val, num_classes, c_grid, refine_steps, max_iter,
                               on_fit=lambda value: report.advance(1, f"C={value:.3g}"))
        clf = fit_logistic_regression(train, train_y, num_classes, c, max_iter=max_iter, init=init)
        report.update(fits, f"C={c:.3g}")
    logits = clf.logits(test)
    return {
        "linear_top1": percent(topk_correct(logits, test_y, 1)),
        "linear_top5": percent(topk_correct(logits, test_y, 5)),
        "linear_c": float(c),
    }


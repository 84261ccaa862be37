"""L2-regularised multinomial logistic regression fitted full-batch with L-BFGS in torch.

The objective is scikit-learn's ``LogisticRegression(C=c)`` divided by ``c * N``::

    mean_i CE(W x_i + b, y_i) + ||W||^2 / (2 c N)

so the minimiser, and hence the predictions, are the same as scikit-learn's for the same ``C``
(the bias is not penalised, as in scikit-learn's lbfgs solver). The gradient is written out by hand
rather than taken by autograd: it is two matmuls, and skipping the graph makes each L-BFGS
evaluation cheaper on CPU.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass
class SoftmaxClassifier:
    """A linear classifier ``logits = x @ weight.T + bias``; weight ``[C, F]``, bias ``[C]``.

    The layout is ``nn.Linear``'s and scikit-learn's ``coef_``.
    """

    weight: Tensor
    bias: Tensor

    def logits(self, features: Tensor) -> Tensor:
        """Class scores ``[N, C]`` for features ``[N, F]`` (cast to the classifier's dtype)."""
        return torch.addmm(self.bias, features.to(self.weight.dtype), self.weight.T)


def logistic_loss_and_grad(
    features: Tensor, labels: Tensor, weight: Tensor, bias: Tensor, l2: float
) -> tuple[Tensor, Tensor, Tensor]:
    """Loss and its gradients w.r.t. ``weight`` ``[C, F]`` and ``bias`` ``[C]``.

    ``features`` ``[N, F]``, ``labels`` int64 ``[N, 1]``, ``l2`` the penalty ``1 / (c N)``.
    """
    n = features.shape[0]
    log_probs = torch.log_softmax(torch.addmm(bias, features, weight.T), dim=1)
    loss = -log_probs.gather(1, labels).sum() / n + 0.5 * l2 * weight.square().sum()
    minus_one = torch.full_like(labels, -1, dtype=log_probs.dtype)
    residual = log_probs.exp_().scatter_add_(1, labels, minus_one).div_(n)
    # residual.T @ features reads the big matrix row-major; features.T @ residual is several
    # times slower on CPU (strided access).
    return loss, torch.addmm(weight, residual.T, features, alpha=1.0, beta=l2), residual.sum(0)


def fit_logistic_regression(
    features: Tensor,
    labels: Tensor,
    num_classes: int,
    c: float,
    max_iter: int = 1000,
    tol: float = 1e-4,
    init: SoftmaxClassifier | None = None,
) -> SoftmaxClassifier:
    """Minimise the objective above with ``torch.optim.LBFGS`` (strong-Wolfe line search).

    Args:
        features: ``[N, F]`` float32 or float64 (the fit runs in this dtype), ideally standardised.
        labels: int64 ``[N]`` in ``[0, num_classes)``.
        c: inverse regularisation strength, scikit-learn's ``C``.
        max_iter: L-BFGS iterations.
        tol: stop when the largest gradient entry is below this (scikit-learn's ``gtol``).
        init: warm start, e.g. the solution at a neighbouring ``c``.
    """
    dtype = features.dtype
    targets = labels[:, None]
    if init is None:
        weight = torch.zeros(num_classes, features.shape[1], dtype=dtype)
        bias = torch.zeros(num_classes, dtype=dtype)
    else:
        weight, bias = init.weight.to(dtype).clone(), init.bias.to(dtype).clone()
    weight.requires_grad_(True)
    bias.requires_grad_(True)
    l2 = 1.0 / (c * features.shape[0])
    optimizer = torch.optim.LBFGS(
        [weight, bias],
        lr=1.0,
        max_iter=max_iter,
        max_eval=max_iter * 5 // 4,
        tolerance_grad=tol,
        tolerance_change=torch.finfo(dtype).eps,
        history_size=10,
        line_search_fn="strong_wolfe",
    )

    def closure() -> Tensor:
        with torch.no_grad():
            loss, weight.grad, bias.grad = logistic_loss_and_grad(
                features, targets, weight, bias, l2
            )
        return loss

    optimizer.step(closure)
    return SoftmaxClassifier(weight.detach(), bias.detach())

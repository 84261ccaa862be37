import math

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import simclip.eval.linear as lp
from simclip.eval.linear import linear_probe, select_c, stratified_split
from simclip.eval.logistic_regression import fit_logistic_regression

from .conftest import gaussian_splits


@pytest.fixture(scope="module")
def overlapping():
    """4 overlapping classes (accuracy well below 100%), so the regularisation matters."""
    return gaussian_splits(100, 50, num_classes=4, dim=12, spread=0.6, seed=5)


@pytest.mark.parametrize("c", [0.01, 1.0, 100.0])
def test_logistic_regression_matches_sklearn(overlapping, c):
    x, y, test_x, _ = overlapping
    x, test_x = x.double(), test_x.double()
    ours = fit_logistic_regression(x, y, 4, c, max_iter=2000, tol=1e-7)
    ref = LogisticRegression(C=c, tol=1e-10, max_iter=10000).fit(x.numpy(), y.numpy())
    np.testing.assert_array_equal(ours.logits(test_x).argmax(1).numpy(), ref.predict(test_x.numpy()))
    # Same objective, so the same minimiser: compare the weights, not just the predictions.
    scale = np.abs(ref.coef_).max()
    np.testing.assert_allclose(ours.weight.numpy(), ref.coef_, atol=1e-4 * scale)


def test_logistic_regression_float32_agrees_with_sklearn(overlapping):
    x, y, test_x, _ = overlapping
    ours = fit_logistic_regression(x.float(), y, 4, 1.0)
    ref = LogisticRegression(C=1.0).fit(x.double().numpy(), y.numpy())
    agree = (ours.logits(test_x).argmax(1).numpy() == ref.predict(test_x.double().numpy())).mean()
    assert agree >= 0.99


def test_separable_gaussians_reach_high_accuracy(separable):
    result = linear_probe(*separable)
    assert result["linear_top1"] == 100.0
    assert result["linear_top5"] == 100.0
    assert 1e-6 <= result["linear_c"] <= 1e6


def test_fixed_c_matches_sklearn_pipeline(overlapping):
    x, y, test_x, test_y = overlapping
    result = linear_probe(x, y, test_x, test_y, c_grid=[0.1], dtype=torch.float64)
    pipe = make_pipeline(StandardScaler(), LogisticRegression(C=0.1, tol=1e-8, max_iter=5000))
    pipe.fit(x.double().numpy(), y.numpy())
    expected = 100.0 * (pipe.predict(test_x.double().numpy()) == test_y.numpy()).mean()
    assert result["linear_c"] == 0.1
    assert result["linear_top1"] == pytest.approx(expected)
    assert 40.0 < result["linear_top1"] < 95.0  # overlapping, so the comparison is not trivial


def test_top5_with_fewer_than_five_classes_is_top_c(overlapping):
    result = linear_probe(*overlapping, c_grid=[1.0])
    assert result["linear_top5"] == 100.0
    assert result["linear_top1"] < 100.0


def test_search_is_a_log_sweep_then_bisection(monkeypatch):
    # Fake fits whose validation score is -(log10(C) - 0.3)^2, to follow the search by hand.
    # Grid best: log 0 (score -0.09), bracket (-1, 0, 1), neighbours score -1.69 and -0.49.
    # Round 1: halves equal, better neighbour is +1 -> probe 0.5 (-0.04), better: bracket (0, 0.5, 1).
    # Round 2: halves equal, neighbour 0 (-0.09) beats 1 (-0.49) -> probe 0.25 (-0.0025), better:
    #          bracket (0, 0.25, 0.5).
    # Round 3: halves equal, neighbour 0.5 (-0.04) beats 0 -> probe 0.375 (-0.005625), worse.
    # Answer: 10 ** 0.25, after 13 + 3 fits.
    tried = []

    def fake_fit(features, labels, num_classes, c, max_iter, init):
        tried.append(math.log10(c))
        return c

    monkeypatch.setattr(lp, "fit_logistic_regression", fake_fit)
    monkeypatch.setattr(lp, "_val_score", lambda c, x, y: (-((math.log10(c) - 0.3) ** 2), 0.0))
    data = (torch.zeros(1, 1), torch.zeros(1))
    best, model = select_c(data, data, 2, lp.DEFAULT_C_GRID, refine_steps=3)
    assert best == pytest.approx(10**0.25)
    assert model == best
    assert tried[:13] == list(range(-6, 7))  # strong to weak regularisation (warm starts)
    assert tried[13:] == pytest.approx([0.5, 0.25, 0.375])


def test_search_at_the_edge_of_the_grid_probes_inwards(monkeypatch):
    tried = []
    monkeypatch.setattr(lp, "fit_logistic_regression", lambda *a, **k: tried.append(math.log10(a[3])) or a[3])
    monkeypatch.setattr(lp, "_val_score", lambda c, x, y: (-abs(math.log10(c) - 9.0), 0.0))
    data = (torch.zeros(1, 1), torch.zeros(1))
    best, _ = select_c(data, data, 2, [1e-2, 1.0, 1e2], refine_steps=2)
    # Best is the last grid point (log 2); probes 1 (worse), then 1.5 (worse): stays at 100.
    assert tried[3:] == pytest.approx([1.0, 1.5])
    assert best == 100.0


def test_stratified_split_keeps_every_class_on_both_sides():
    labels = torch.tensor([0] * 50 + [1] * 10 + [2] * 2)
    fit, val = stratified_split(labels, 0.2, seed=0)
    assert torch.equal(torch.cat([fit, val]).sort().values, torch.arange(62))
    assert labels[val].bincount(minlength=3).tolist() == [10, 2, 0]  # round(0.2 * 2) = 0
    assert labels[fit].bincount(minlength=3).tolist() == [40, 8, 2]
    again_fit, again_val = stratified_split(labels, 0.2, seed=0)
    assert torch.equal(fit, again_fit) and torch.equal(val, again_val)
    assert not torch.equal(val, stratified_split(labels, 0.2, seed=1)[1])


def test_constant_feature_does_not_break_standardisation(separable):
    train_x, train_y, test_x, test_y = separable
    pad = lambda x: torch.cat([x, torch.full((x.shape[0], 1), 3.0)], dim=1)  # noqa: E731
    result = linear_probe(pad(train_x), train_y, pad(test_x), test_y, c_grid=[1.0])
    assert result["linear_top1"] == 100.0


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"val_fraction": 0.0}, ValueError, "val_fraction"),
        ({"val_fraction": 1.0}, ValueError, "val_fraction"),
        ({"c_grid": []}, ValueError, "c_grid"),
        ({"c_grid": [1.0, -1.0]}, ValueError, "c_grid"),
        ({"max_iter": 0}, ValueError, "max_iter"),
        ({"dtype": torch.float16}, ValueError, "dtype"),
    ],
)
def test_bad_arguments(separable, kwargs, error, match):
    with pytest.raises(error, match=match):
        linear_probe(*separable, **kwargs)


def test_bad_inputs(separable):
    train_x, train_y, test_x, test_y = separable
    with pytest.raises(ValueError, match="test_labels has 149 entries"):
        linear_probe(train_x, train_y, test_x, test_y[1:])
    with pytest.raises(ValueError, match="at least two classes"):
        linear_probe(train_x, torch.zeros_like(train_y), test_x, test_y)
    with pytest.raises(ValueError, match="feature width"):
        linear_probe(train_x, train_y, test_x[:, :3], test_y)

import pytest
import torch

from simclip.losses import MarginContrastiveLoss, margin_contrastive


def margin_reference(a, b, same, margin):
    """Hadsell, Chopra & LeCun eq. 4 per pair: (1 - Y) 1/2 D^2 + Y 1/2 max(0, m - D)^2, Y = 1 if dissimilar."""
    total = torch.zeros((), dtype=a.dtype)
    for i in range(a.shape[0]):
        distance = torch.sqrt(torch.sum((a[i] - b[i]) ** 2))
        if same[i]:
            total = total + 0.5 * distance**2
        else:
            total = total + 0.5 * torch.clamp(margin - distance, min=0) ** 2
    return total / a.shape[0]


@pytest.mark.parametrize("margin", [1.0, 3.0])
def test_equals_reference(margin, value_and_grads, assert_same):
    torch.manual_seed(0)
    a, b = torch.randn(10, 4, dtype=torch.float64), torch.randn(10, 4, dtype=torch.float64)
    same = torch.tensor([True, False] * 5)
    want = value_and_grads(lambda x, y: margin_reference(x, y, same, margin), a, b)
    assert_same(value_and_grads(lambda x, y: margin_contrastive(x, y, same, margin), a, b), want, atol=1e-10)
    got32 = value_and_grads(lambda x, y: MarginContrastiveLoss(margin)(x, y, same), a.float(), b.float())
    assert_same(got32, want, atol=1e-5)


def test_identical_pairs_have_zero_finite_gradient(value_and_grads):
    a = torch.randn(4, 3)
    same = torch.tensor([True, False, True, False])
    value, (grad_a, grad_b) = value_and_grads(lambda x, y: margin_contrastive(x, y, same, 1.0), a, a.clone())
    # similar pairs at distance 0 cost nothing; dissimilar pairs at distance 0 cost m^2 / 2 each
    assert value.item() == pytest.approx(0.5 * 0.5)
    assert torch.isfinite(grad_a).all() and torch.isfinite(grad_b).all()


def test_dissimilar_pairs_beyond_margin_cost_nothing():
    a = torch.zeros(3, 2)
    b = torch.tensor([[3.0, 0.0], [0.0, 2.0], [1.5, 1.5]])
    assert margin_contrastive(a, b, torch.zeros(3, dtype=torch.bool), margin=1.0).item() == 0.0


@pytest.mark.parametrize(
    "same, margin, error, match",
    [
        (torch.ones(4), 1.0, TypeError, "same must be a bool tensor"),
        (torch.ones(3, dtype=torch.bool), 1.0, ValueError, r"same must have shape \(4,\)"),
        ([True] * 4, 1.0, TypeError, "same must be a torch.Tensor"),
        (torch.ones(4, dtype=torch.bool), 0.0, ValueError, "margin"),
        (torch.ones(4, dtype=torch.bool), -1.0, ValueError, "margin"),
    ],
)
def test_bad_inputs(same, margin, error, match):
    with pytest.raises(error, match=match):
        margin_contrastive(torch.randn(4, 3), torch.randn(4, 3), same, margin)


def test_shape_mismatch():
    with pytest.raises(ValueError, match="a and b must have the same shape"):
        margin_contrastive(torch.randn(4, 3), torch.randn(4, 2), torch.ones(4, dtype=torch.bool))

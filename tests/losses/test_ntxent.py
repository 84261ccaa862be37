import math

import pytest
import torch
import torch.nn.functional as F

from simclip.losses import NTXentLoss, nt_xent


def simclr_reference(z1: torch.Tensor, z2: torch.Tensor, temperature: float) -> torch.Tensor:
    """SimCLR eq. 1 written out: l(i, j) over the 2N anchors, mean."""
    z = [F.normalize(v, dim=0) for v in torch.cat([z1, z2])]
    n2 = len(z)
    total = torch.zeros((), dtype=z1.dtype)
    for i in range(n2):
        j = (i + n2 // 2) % n2
        denominator = sum(torch.exp(torch.dot(z[i], z[k]) / temperature) for k in range(n2) if k != i)
        total = total - torch.log(torch.exp(torch.dot(z[i], z[j]) / temperature) / denominator)
    return total / n2


def cross_entropy_reference(z1: torch.Tensor, z2: torch.Tensor, temperature: float) -> torch.Tensor:
    """The 2N-way cross-entropy formulation: logits [2N, 2N] with -inf on the diagonal."""
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    n = z1.shape[0]
    logits = z @ z.T / temperature
    logits = logits.masked_fill(torch.eye(2 * n, dtype=torch.bool), float("-inf"))
    labels = torch.cat([torch.arange(n, 2 * n), torch.arange(n)])
    return F.cross_entropy(logits, labels)


def supcon_reference(views: torch.Tensor, temperature: float) -> torch.Tensor:
    """Khosla et al. eq. 2 (L_out), positives = the other views of the same sample."""
    n_views, n, _ = views.shape
    z = F.normalize(views, dim=-1)
    anchors = [(v, i) for v in range(n_views) for i in range(n)]
    total = torch.zeros((), dtype=views.dtype)
    for v, i in anchors:
        sim = {(w, j): torch.dot(z[v, i], z[w, j]) / temperature for w, j in anchors}
        log_denominator = torch.log(sum(torch.exp(s) for key, s in sim.items() if key != (v, i)))
        positives = [(w, i) for w in range(n_views) if w != v]
        total = total - sum(sim[p] - log_denominator for p in positives) / len(positives)
    return total / len(anchors)


@pytest.mark.parametrize("temperature", [0.5, 0.1])
def test_two_views_equal_simclr_formula(temperature, value_and_grads, assert_same):
    torch.manual_seed(0)
    z1, z2 = torch.randn(6, 5, dtype=torch.float64), torch.randn(6, 5, dtype=torch.float64)
    want = value_and_grads(lambda a, b: simclr_reference(a, b, temperature), z1, z2)
    assert_same(value_and_grads(lambda a, b: nt_xent([a, b], temperature), z1, z2), want, atol=1e-10)
    assert_same(value_and_grads(lambda a, b: cross_entropy_reference(a, b, temperature), z1, z2), want, atol=1e-10)


@pytest.mark.parametrize("block_size", [None, 6, 4, 1, 64])  # 2N = 18 anchors
def test_two_views_float32_within_1e5(block_size, value_and_grads, assert_same):
    torch.manual_seed(1)
    z1, z2 = torch.randn(9, 8, dtype=torch.float64), torch.randn(9, 8, dtype=torch.float64)
    want = value_and_grads(lambda a, b: simclr_reference(a, b, 0.2), z1, z2)
    got = value_and_grads(
        lambda a, b: nt_xent(torch.stack([a, b]), 0.2, block_size=block_size), z1.float(), z2.float()
    )
    assert got[0].dtype == torch.float32
    assert_same(got, want, atol=1e-5)


def test_equals_lightly(value_and_grads, assert_same):
    from lightly.loss import NTXentLoss as LightlyNTXent

    torch.manual_seed(2)
    z1, z2 = torch.randn(16, 12), torch.randn(16, 12)
    want = value_and_grads(LightlyNTXent(temperature=0.3), z1, z2)
    assert_same(value_and_grads(NTXentLoss(temperature=0.3), z1, z2), want, atol=1e-5)


@pytest.mark.parametrize("n_views", [2, 3, 4])
def test_multi_view_equals_supcon_l_out(n_views, value_and_grads, assert_same):
    torch.manual_seed(3)
    views = torch.randn(n_views, 4, 6, dtype=torch.float64)
    want = value_and_grads(lambda v: supcon_reference(v, 0.3), views)
    assert_same(value_and_grads(lambda v: nt_xent(v, 0.3), views), want, atol=1e-10)
    for block_size in (4, 5):
        got = value_and_grads(lambda v: nt_xent(v.float(), 0.3, block_size=block_size), views)
        assert_same(got, want, atol=1e-5)
    assert_same(value_and_grads(lambda v: nt_xent(list(v.unbind(0)), 0.3), views), want, atol=1e-10)


def test_low_temperature_reference_float64(value_and_grads, assert_same):
    torch.manual_seed(4)
    z1, z2 = torch.randn(5, 4, dtype=torch.float64), torch.randn(5, 4, dtype=torch.float64)
    want = value_and_grads(lambda a, b: simclr_reference(a, b, 0.01), z1, z2)
    assert_same(value_and_grads(lambda a, b: nt_xent([a, b], 0.01), z1, z2), want, atol=1e-8, rtol=1e-10)


@pytest.mark.parametrize("block_size", [None, 3])
def test_temperature_001_near_identical_features_is_finite(block_size, value_and_grads):
    torch.manual_seed(5)
    base = torch.randn(1, 32)
    z1 = base + 1e-4 * torch.randn(8, 32)
    z2 = base + 1e-4 * torch.randn(8, 32)
    value, grads = value_and_grads(lambda a, b: nt_xent([a, b], 0.01, block_size=block_size), z1, z2)
    assert torch.isfinite(value)
    # all 2N - 1 candidates are (almost) equally similar, so the loss is close to log(2N - 1)
    assert abs(value.item() - math.log(15)) < 0.1
    assert all(torch.isfinite(g).all() for g in grads)


def test_module_forward_forms_agree():
    torch.manual_seed(6)
    z1, z2 = torch.randn(4, 3), torch.randn(4, 3)
    loss = NTXentLoss(temperature=0.2)
    assert torch.allclose(loss(z1, z2), loss(torch.stack([z1, z2])))
    assert torch.allclose(loss(z1, z2), nt_xent([z1, z2], 0.2))


@pytest.mark.parametrize(
    "views, error, match",
    [
        (torch.randn(1, 4, 3), ValueError, "at least 2 views"),
        ([torch.randn(4, 3)], ValueError, "at least 2 views"),
        ([], ValueError, "at least 2 views"),
        (torch.randn(4, 3), ValueError, "views must have 3 dimensions"),
        ([torch.randn(4, 3), torch.randn(5, 3)], ValueError, r"views\[1\] has shape"),
        ([torch.randn(4, 3), torch.ones(4, 3, dtype=torch.long)], TypeError, r"views\[1\] must be a floating-point"),
        ("abc", TypeError, "views must be a tensor"),
    ],
)
def test_bad_views(views, error, match):
    with pytest.raises(error, match=match):
        nt_xent(views)


@pytest.mark.parametrize("temperature", [0.0, -0.5, float("nan"), float("inf")])
def test_bad_temperature(temperature):
    with pytest.raises(ValueError, match="temperature"):
        nt_xent(torch.randn(2, 4, 3), temperature)
    with pytest.raises(ValueError, match="temperature"):
        NTXentLoss(temperature)


def test_bad_block_size():
    with pytest.raises(ValueError, match="block_size"):
        nt_xent(torch.randn(2, 4, 3), block_size=0)
    with pytest.raises(TypeError, match="block_size"):
        nt_xent(torch.randn(2, 4, 3), block_size=2.5)


@pytest.mark.parametrize("temperature", [0.5, 0.2])
def test_separate_views_as_lightly_calls_it(temperature, value_and_grads, assert_same):
    torch.manual_seed(3)
    z1, z2 = torch.randn(5, 4, dtype=torch.float64), torch.randn(5, 4, dtype=torch.float64)
    want = value_and_grads(lambda a, b: simclr_reference(a, b, temperature), z1, z2)
    got = value_and_grads(lambda a, b: nt_xent(a, b, temperature=temperature), z1, z2)
    assert_same(got, want, atol=1e-10)
    # every other form gives the same value
    for other in (nt_xent(torch.stack([z1, z2]), temperature), nt_xent([z1, z2], temperature),
                  nt_xent(torch.stack([z1, z2]), temperature=temperature),
                  nt_xent([z1, z2], temperature=temperature), nt_xent(z1, z2, temperature)):
        assert torch.allclose(other, want[0], atol=1e-10)


def test_separate_views_default_temperature_and_three_views(value_and_grads, assert_same):
    torch.manual_seed(4)
    views = torch.randn(3, 4, 5, dtype=torch.float64)
    assert torch.allclose(nt_xent(views[0], views[1]), simclr_reference(views[0], views[1], 0.5), atol=1e-10)
    want = value_and_grads(lambda v: supcon_reference(v, 0.3), views)
    assert_same(value_and_grads(lambda v: nt_xent(*v.unbind(0), temperature=0.3), views), want, atol=1e-10)


def test_temperature_given_twice_or_views_missing():
    z = torch.randn(4, 3)
    with pytest.raises(TypeError, match="temperature twice"):
        nt_xent([z, z], 0.5, temperature=0.5)
    with pytest.raises(TypeError, match="needs views"):
        nt_xent(temperature=0.5)
    with pytest.raises(ValueError, match=r"views\[1\] has shape"):
        nt_xent(z, torch.randn(5, 3), temperature=0.5)

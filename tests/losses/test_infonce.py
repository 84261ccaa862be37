import pytest
import torch

from simclip.losses import InfoNCELoss, info_nce


def score(a: torch.Tensor, b: torch.Tensor, kind: str) -> torch.Tensor:
    if kind == "cosine":
        return torch.dot(a, b) / (torch.linalg.norm(a) * torch.linalg.norm(b))
    if kind == "dot":
        return torch.dot(a, b)
    return -torch.sum((a - b) ** 2)


def info_nce_reference(query, positive, negatives, temperature, kind):
    """van den Oord et al. eq. 4 written out per query: -log(exp(s+/t) / sum over {+, negatives})."""
    n = query.shape[0]
    total = torch.zeros((), dtype=query.dtype)
    for i in range(n):
        if negatives is None:
            candidates = [positive[j] for j in range(n) if j != i]
        elif negatives.dim() == 2:
            candidates = list(negatives)
        else:
            candidates = list(negatives[i])
        pos = torch.exp(score(query[i], positive[i], kind) / temperature)
        neg = sum(torch.exp(score(query[i], c, kind) / temperature) for c in candidates)
        total = total - torch.log(pos / (pos + neg))
    return total / n


KINDS = ["cosine", "dot", "euclidean"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("negatives_shape", [None, (5, 4), (6, 3, 4)])
def test_equals_reference_float64(kind, negatives_shape, value_and_grads, assert_same):
    torch.manual_seed(0)
    query, positive = torch.randn(6, 4, dtype=torch.float64), torch.randn(6, 4, dtype=torch.float64)
    inputs = [query, positive]
    if negatives_shape is not None:
        inputs.append(torch.randn(*negatives_shape, dtype=torch.float64))
    temperature = 0.7 if kind == "euclidean" else 0.2

    def reference(q, p, neg=None):
        return info_nce_reference(q, p, neg, temperature, kind)

    def ours(q, p, neg=None):
        return info_nce(q, p, neg, temperature=temperature, score=kind)

    assert_same(value_and_grads(ours, *inputs), value_and_grads(reference, *inputs), atol=1e-10)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("block_size", [None, 4, 3])
def test_float32_within_1e5(kind, block_size, value_and_grads, assert_same):
    torch.manual_seed(1)
    query, positive = torch.randn(8, 5, dtype=torch.float64), torch.randn(8, 5, dtype=torch.float64)
    temperature = 2.0 if kind == "euclidean" else 0.3
    want = value_and_grads(lambda q, p: info_nce_reference(q, p, None, temperature, kind), query, positive)
    got = value_and_grads(
        lambda q, p: info_nce(q, p, temperature=temperature, score=kind, block_size=block_size),
        query.float(),
        positive.float(),
    )
    assert_same(got, want, atol=1e-5)


def test_module_matches_function():
    torch.manual_seed(2)
    query, positive, negatives = torch.randn(4, 3), torch.randn(4, 3), torch.randn(7, 3)
    loss = InfoNCELoss(temperature=0.5, score="dot")
    assert torch.allclose(loss(query, positive, negatives), info_nce(query, positive, negatives, 0.5, "dot"))


@pytest.mark.parametrize("block_size", [None, 3])
def test_temperature_001_near_identical_features_is_finite(block_size, value_and_grads):
    torch.manual_seed(3)
    base = torch.randn(1, 16)
    query, positive = base + 1e-4 * torch.randn(6, 16), base + 1e-4 * torch.randn(6, 16)
    value, grads = value_and_grads(
        lambda q, p: info_nce(q, p, temperature=0.01, block_size=block_size), query, positive
    )
    assert torch.isfinite(value) and all(torch.isfinite(g).all() for g in grads)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(positive=torch.randn(5, 3)), ValueError, "query and positive must have the same shape"),
        (dict(negatives=torch.randn(7, 2)), ValueError, r"negatives must be \[M, 3\]"),
        (dict(negatives=torch.randn(3, 7, 3)), ValueError, r"negatives must be \[M, 3\] \(shared\) or \[4, M, 3\]"),
        (dict(negatives=[[0.0]]), TypeError, "negatives must be None or a torch.Tensor"),
        (dict(negatives=torch.ones(7, 3, dtype=torch.long)), TypeError, "negatives must be a floating"),
        (dict(temperature=0.0), ValueError, "temperature"),
        (dict(temperature=-1.0), ValueError, "temperature"),
        (dict(score="l1"), ValueError, "score must be one of"),
        (dict(query=torch.randn(4, 3, 1)), ValueError, "query must have 2 dimensions"),
    ],
)
def test_bad_inputs(kwargs, error, match):
    args = dict(query=torch.randn(4, 3), positive=torch.randn(4, 3))
    args.update(kwargs)
    with pytest.raises(error, match=match):
        info_nce(**args)


def test_module_validates_at_construction():
    with pytest.raises(ValueError, match="score"):
        InfoNCELoss(score="manhattan")
    with pytest.raises(ValueError, match="temperature"):
        InfoNCELoss(temperature=0)

import math

import pytest
import torch

from simclip.eval.knn import knn_classify, knn_votes

from .conftest import gaussian_splits


def naive_knn_ranking(train_x, train_y, test_x, k, temperature, num_classes):
    """Float64 reference: per query, sort all training points and sum exp(s/T) per class.

    Returns, per query, the classes that received a vote, best first.
    """
    train = torch.nn.functional.normalize(train_x.double(), dim=1)
    test = torch.nn.functional.normalize(test_x.double(), dim=1)
    rankings = []
    for q in test:
        sims = [(float(q @ t), int(y)) for t, y in zip(train, train_y)]
        sims.sort(key=lambda s: -s[0])
        votes = {}
        for s, y in sims[:k]:
            votes[y] = votes.get(y, 0.0) + math.exp(s / temperature)
        rankings.append(sorted(votes, key=lambda c: -votes[c]))
    return rankings


def test_separable_clusters_are_classified_perfectly(separable):
    result = knn_classify(*separable, k=20)
    assert result == {"knn_top1": 100.0, "knn_top5": 100.0}


def test_random_labels_give_chance_accuracy():
    generator = torch.Generator().manual_seed(0)
    train_x, test_x = torch.randn(2000, 32, generator=generator), torch.randn(1000, 32, generator=generator)
    train_y = torch.randint(0, 10, (2000,), generator=generator)
    test_y = torch.randint(0, 10, (1000,), generator=generator)
    result = knn_classify(train_x, train_y, test_x, test_y, k=50)
    # Chance is 10% / 50%; the standard error on 1000 queries is about 1% / 1.6%.
    assert 5.0 < result["knn_top1"] < 15.0
    assert 42.0 < result["knn_top5"] < 58.0


def test_weighted_vote_hand_computed():
    # Unit vectors, so cosine similarity to the query (1, 0) is the first coordinate:
    # a: 1.0 (class 0), b: 0.8 (class 1), c: 0.6 (class 1), d: 0.0 (class 2, outside k=3).
    train = torch.tensor([[1.0, 0.0], [0.8, 0.6], [0.6, 0.8], [0.0, 1.0]])
    labels = torch.tensor([0, 1, 1, 2])
    query = torch.tensor([[1.0, 0.0]])
    # temperature 0.5: class 0 gets e^2 = 7.389; class 1 gets e^1.6 + e^1.2 = 4.953 + 3.320 = 8.273.
    votes = knn_votes(train, labels, query, k=3, temperature=0.5, num_classes=3)
    expected = torch.tensor([[math.exp(2.0), math.exp(1.6) + math.exp(1.2), -math.inf]])
    torch.testing.assert_close(votes, expected)
    assert knn_classify(train, labels, query, torch.tensor([1]), k=3, temperature=0.5)["knn_top1"] == 100.0
    # temperature 0.1: class 0 gets e^10 = 22026 > e^8 + e^6 = 3384, so the single nearest wins.
    assert knn_classify(train, labels, query, torch.tensor([0]), k=3, temperature=0.1)["knn_top1"] == 100.0
    # An unweighted majority of the 3 neighbours would say class 1 at any temperature; top-1 of the
    # weighted vote with class 1 as truth is therefore wrong here.
    assert knn_classify(train, labels, query, torch.tensor([1]), k=3, temperature=0.1)["knn_top1"] == 0.0


def test_matches_naive_reference_and_is_chunk_invariant():
    train_x, train_y, test_x, test_y = gaussian_splits(30, 10, num_classes=8, dim=6, spread=0.7, seed=3)
    rankings = naive_knn_ranking(train_x, train_y, test_x, k=15, temperature=0.1, num_classes=8)
    expected_top1 = 100.0 * sum(r[0] == int(y) for r, y in zip(rankings, test_y)) / len(test_y)
    expected_top5 = 100.0 * sum(int(y) in r[:5] for r, y in zip(rankings, test_y)) / len(test_y)
    for batch_size in (7, 1024):
        result = knn_classify(train_x, train_y, test_x, test_y, k=15, temperature=0.1, batch_size=batch_size)
        assert result["knn_top1"] == pytest.approx(expected_top1)
        assert result["knn_top5"] == pytest.approx(expected_top5)
    assert 0.0 < expected_top1 < 100.0  # the case is not trivial


def test_class_without_votes_is_not_a_top5_hit():
    # Neighbours only ever come from classes 0 and 1; a query labelled 2 must miss even though
    # classes 2..9 tie for third place.
    train = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    result = knn_classify(train, torch.tensor([0, 1]), torch.tensor([[1.0, 0.2]]), torch.tensor([2]), k=2,
                          num_classes=10)
    assert result == {"knn_top1": 0.0, "knn_top5": 0.0}


def test_top5_with_fewer_than_five_classes_is_top_c():
    train_x, train_y, test_x, test_y = gaussian_splits(20, 10, num_classes=3, dim=4, spread=0.1)
    # k = all 60 training points, so every class has votes and top-"5" is top-3 of 3.
    result = knn_classify(train_x, train_y, test_x, test_y, k=60)
    assert result["knn_top5"] == 100.0
    assert result["knn_top1"] < 100.0


def test_k_larger_than_train_set_is_clamped_with_a_warning(separable):
    train_x, train_y, test_x, test_y = separable
    with pytest.warns(UserWarning, match="exceeds the 300 training points"):
        clamped = knn_classify(train_x, train_y, test_x, test_y, k=1000, temperature=0.5)
    assert clamped == knn_classify(train_x, train_y, test_x, test_y, k=300, temperature=0.5)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"k": 0}, ValueError, "k must be >= 1"),
        ({"k": -3}, ValueError, "k must be >= 1"),
        ({"k": 2.5}, TypeError, "k must be an int"),
        ({"temperature": 0.0}, ValueError, "temperature"),
        ({"batch_size": 0}, ValueError, "batch_size"),
        ({"num_classes": 2}, ValueError, "num_classes is 2"),
    ],
)
def test_bad_arguments(separable, kwargs, error, match):
    with pytest.raises(error, match=match):
        knn_classify(*separable, **kwargs)


def test_bad_inputs(separable):
    train_x, train_y, test_x, test_y = separable
    with pytest.raises(ValueError, match="train_labels has 299 entries"):
        knn_classify(train_x, train_y[:-1], test_x, test_y)
    with pytest.raises(ValueError, match="test_features has feature width 15"):
        knn_classify(train_x, train_y, test_x[:, :15], test_y)
    with pytest.raises(TypeError, match="test_labels must be an integer tensor"):
        knn_classify(train_x, train_y, test_x, test_y.float())
    with pytest.raises(ValueError, match="train_features must have shape"):
        knn_classify(train_x[0], train_y, test_x, test_y)
    bad = train_x.clone()
    bad[3, 2] = float("nan")
    with pytest.raises(ValueError, match="train_features contains NaN"):
        knn_classify(bad, train_y, test_x, test_y)
    with pytest.raises(ValueError, match="negative"):
        knn_classify(train_x, train_y - 1, test_x, test_y)

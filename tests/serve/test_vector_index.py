import numpy as np
import pytest

from simclip.serve.vector_index import (EXACT_MAX_VECTORS, build_vector_index, choose_kind, ivf_nlist,
                                        proxy_queries, recall_at_k, search_vectors)


def clustered(n: int, dim: int, clusters: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((clusters, dim))
    x = centres[rng.integers(clusters, size=n)] + 0.5 * rng.standard_normal((n, dim))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def test_choose_kind_threshold():
    assert choose_kind(EXACT_MAX_VECTORS) == "flat"
    assert choose_kind(EXACT_MAX_VECTORS + 1) == "ivf"
    assert choose_kind(10, "hnsw") == "hnsw"
    with pytest.raises(ValueError, match="index kind"):
        choose_kind(10, "annoy")
    with pytest.raises(ValueError, match="at least"):
        choose_kind(10, "ivf")


def test_ivf_nlist_keeps_enough_points_per_cell():
    assert ivf_nlist(1_000_000) == 4000
    assert ivf_nlist(3000) == 3000 // 39
    assert ivf_nlist(80) == 2


def test_flat_search_matches_float64_reference():
    x = clustered(500, 24, 10)
    q = clustered(7, 24, 10, seed=1)
    index, params = build_vector_index(x, "flat")
    assert params["kind"] == "flat" and params["recall_at_10"] == 1.0
    scores, rows = search_vectors(index, q, 5)
    ref = q.astype(np.float64) @ x.astype(np.float64).T
    expected = np.argsort(-ref, axis=1)[:, :5]
    np.testing.assert_array_equal(rows, expected)
    np.testing.assert_allclose(scores, np.take_along_axis(ref, expected, 1), atol=1e-5)


def test_k_larger_than_collection_is_clipped():
    index, _ = build_vector_index(clustered(3, 8, 2), "flat")
    scores, rows = search_vectors(index, clustered(2, 8, 2, seed=3), 10)
    assert scores.shape == rows.shape == (2, 3)
    with pytest.raises(ValueError, match=r"queries must be \[Q, 8\]"):
        search_vectors(index, np.zeros((1, 9), np.float32), 1)


@pytest.mark.parametrize("kind", ["ivf", "hnsw"])
def test_approximate_index_is_tuned_to_target_recall(kind):
    x = clustered(4000, 32, 40)
    index, params = build_vector_index(x, kind, target_recall=0.95)
    assert params["kind"] == kind and params["recall_at_10"] >= 0.95
    # recall on fresh queries (not those used for tuning) against exact search
    q = proxy_queries(x, 200, seed=123)
    _, found = search_vectors(index, q, 10)
    truth = np.argsort(-(q.astype(np.float64) @ x.astype(np.float64).T), axis=1)[:, :10]
    assert recall_at_k(found, truth) >= 0.9


def test_ivf_tuning_raises_nprobe_for_higher_targets():
    x = clustered(4000, 32, 40)
    _, low = build_vector_index(x, "ivf", target_recall=0.5)
    _, high = build_vector_index(x, "ivf", target_recall=0.99)
    assert low["search_param"] < high["search_param"]
    assert high["recall_at_10"] >= 0.99


def test_recall_at_k_counts_overlap():
    assert recall_at_k(np.array([[1, 2], [3, 4]]), np.array([[2, 9], [3, 4]])) == 0.75


def test_proxy_queries_are_unit_and_near_their_sources():
    x = clustered(100, 64, 5)
    q = proxy_queries(x, 20)
    np.testing.assert_allclose(np.linalg.norm(q, axis=1), 1, atol=1e-5)
    best = (q @ x.T).max(axis=1)
    assert np.all(best > 0.5) and np.all(best < 0.95)

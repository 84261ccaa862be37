"""The FAISS structure behind an image index: exact for small collections, approximate for large ones.

Vectors are unit length, so inner product is cosine similarity and every structure here uses it.

Choice of structure (``kind="auto"``):
  * up to :data:`EXACT_MAX_VECTORS` vectors: ``IndexFlatIP``, exact. A single query reads every
    vector once, N x E x 4 bytes (20,000 x 512 floats are 40 MB); up to this size that is as fast as
    an approximate search (BENCHMARKS.md, "Image search"), with perfect recall.
  * above it: an inverted file (IVF; Jegou et al. 2011, "Product quantization for nearest neighbor
    search"). ``nlist ~ 4 sqrt(N)`` cells (FAISS's guideline is 4-16 sqrt(N)); a query scans the
    ``nprobe`` nearest cells, so work is ~ (nprobe / nlist) N. ``nprobe`` is not guessed: it is tuned
    at build time, raised in ~1.5x steps until recall@10 against exact search reaches
    ``target_recall`` on proxy queries (see :func:`proxy_queries`).
    The cells hold 8-bit scalar-quantized vectors (a quarter of the bytes) and the best
    ``REFINE_FACTOR * k`` candidates are re-ranked exactly against full-precision copies
    (``IndexRefineFlat``): the scan is memory-bound, so this halves query time at unchanged recall.
    IVF rather than HNSW by default: HNSW builds several times slower and, on clustered vectors,
    stays short of IVF's recall at any ``efSearch`` (figures: BENCHMARKS.md, "Image search").
  * ``kind="hnsw"`` (Malkov & Yashunin 2018) is available: ``M=32`` links per node,
    ``efConstruction=80``, ``efSearch`` tuned the same way as ``nprobe``.
"""

from __future__ import annotations

import logging
import math
from typing import Any, cast

import faiss
import numpy as np

from simclip.errors import UsageError

log = logging.getLogger(__name__)
EXACT_MAX_VECTORS = 20_000
KINDS = ("auto", "flat", "ivf", "hnsw")
# FAISS warns below 39 training points per centroid; 64 per centroid is enough for stable k-means and
# keeps training at a million vectors to ~262k points (FAISS's default cap is 256 per centroid).
MIN_POINTS_PER_CELL = 39
TRAIN_POINTS_PER_CELL = 64
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
TUNING_QUERIES = 256
REFINE_FACTOR = 4


def choose_kind(n: int, kind: str = "auto") -> str:
    """Resolve ``kind`` for a collection of ``n`` vectors: ``"flat"``, ``"ivf"`` or ``"hnsw"``."""
    if kind not in KINDS:
        raise ValueError(f"index kind must be one of {KINDS}, got {kind!r}")
    if kind == "auto":
        return "flat" if n <= EXACT_MAX_VECTORS else "ivf"
    if kind == "ivf" and n < 2 * MIN_POINTS_PER_CELL:
        raise UsageError(f"an IVF index needs at least {2 * MIN_POINTS_PER_CELL} vectors, got {n}")
    return kind


def ivf_nlist(n: int) -> int:
    """Number of IVF cells for ``n`` vectors: ~4 sqrt(n), and at most n / 39 so k-means is well posed."""
    return max(2, min(int(4 * math.sqrt(n)), n // MIN_POINTS_PER_CELL))


def proxy_queries(vectors: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    """``float32[n, E]`` unit queries near, but not on, random stored vectors.

    Each is a stored vector plus isotropic noise of the same norm, renormalised: in high dimension its
    cosine to the source is ~0.7, so true neighbours spread over several cells as those of real queries
    (a text embedding is never one of the image vectors) do. Tuning on stored vectors themselves would
    find their own cell first and overstate recall.
    """
    rng = np.random.default_rng(seed)
    rows = vectors[rng.choice(len(vectors), size=min(n, len(vectors)), replace=False)]
    noise = rng.standard_normal(rows.shape).astype(np.float32)
    noise /= np.linalg.norm(noise, axis=1, keepdims=True)
    queries = rows + noise * np.linalg.norm(rows, axis=1, keepdims=True)
    return (queries / np.linalg.norm(queries, axis=1, keepdims=True)).astype(np.float32)


def recall_at_k(found: np.ndarray, truth: np.ndarray) -> float:
    """Mean fraction of each row of ``truth`` ``[Q, k]`` present in the same row of ``found``."""
    hits = sum(len(set(f.tolist()) & set(t.tolist())) for f, t in zip(found, truth))
    return hits / truth.size


def set_search_param(index: faiss.Index, value: int | None) -> None:
    """Apply the tuned speed/recall knob: ``nprobe`` (IVF) or ``efSearch`` (HNSW); flat has none."""
    if value is None:
        return
    ivf = faiss.try_extract_index_ivf(index)  # also finds the IVF inside a re-ranking wrapper
    if ivf is not None:
        ivf.nprobe = int(value)
    elif isinstance(index, faiss.IndexHNSW):
        index.hnsw.efSearch = int(value)


def _ladder(start: int, stop: int) -> list[int]:
    """``start * {1, 1.5, 2, 3, 4, 6, ...}`` up to ``stop``."""
    values, base = [], start
    while base <= stop:
        values += [base] + ([base * 3 // 2] if base * 3 // 2 <= stop and base > 1 else [])
        base *= 2
    return values


def tune_search_param(index: faiss.Index, vectors: np.ndarray, target_recall: float, k: int = 10,
                      seed: int = 0) -> tuple[int | None, float]:
    """Smallest ``nprobe``/``efSearch`` on a ~1.5x ladder whose recall@k on proxy queries reaches
    ``target_recall``; returns ``(value, recall)`` (``(None, 1.0)`` for a flat index)."""
    # Steps of ~1.5x (1, 2, 3, 4, 6, 8, 12, ...): doubling overshoots, and scan time is linear in nprobe.
    ivf = faiss.try_extract_index_ivf(index)
    if ivf is not None:
        ladder = sorted(set(_ladder(1, ivf.nlist)) | {ivf.nlist})
    elif isinstance(index, faiss.IndexHNSW):
        ladder = _ladder(max(k, 16), 1024)
    else:
        return None, 1.0
    k = min(k, len(vectors))
    queries = proxy_queries(vectors, TUNING_QUERIES, seed)
    _, truth = faiss.knn(queries, vectors, k, metric=faiss.METRIC_INNER_PRODUCT)
    recall = 0.0
    for value in ladder:
        set_search_param(index, value)
        _, found = index.search(queries, k)
        recall = recall_at_k(found, truth)
        if recall >= target_recall:
            break
    return value, recall


def build_vector_index(vectors: np.ndarray, kind: str = "auto", target_recall: float = 0.97,
                       seed: int = 0) -> tuple[faiss.Index, dict[str, Any]]:
    """A FAISS index over unit ``vectors`` ``float32[N, E]`` and the parameters chosen for it.

    ``target_recall`` (default 0.97, a margin over a 0.95 goal because proxy queries only approximate
    real ones) drives the tuning of approximate indexes. Returns ``(index, params)`` where ``params``
    holds ``kind``, ``nlist``/``hnsw_m`` and the tuned ``search_param`` with its measured ``recall``.
    """
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    if vectors.ndim != 2 or len(vectors) == 0:
        raise ValueError(f"vectors must be a non-empty [N, E] array, got shape {vectors.shape}")
    n, dim = vectors.shape
    kind = choose_kind(n, kind)
    params: dict[str, Any] = {"kind": kind}
    index: faiss.Index
    if kind == "flat":
        index = faiss.IndexFlatIP(dim)
    elif kind == "ivf":
        nlist = ivf_nlist(n)
        ivf = faiss.IndexIVFScalarQuantizer(faiss.IndexFlatIP(dim), dim, nlist,
                                            faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT)
        ivf.cp.max_points_per_centroid = TRAIN_POINTS_PER_CELL
        # 10 k-means iterations instead of FAISS's 25: cells only need to be roughly balanced, the tuned
        # nprobe absorbs the rest, and training is the bulk of the build time.
        ivf.cp.niter = 10
        ivf.cp.seed = seed
        ivf.train(vectors)
        refine = faiss.IndexRefineFlat(ivf)
        # the wrapper frees the IVF it re-ranks, whatever Python does with `ivf` (`this` is SWIG's
        # handle on the C++ object, which the stubs do not declare)
        cast(Any, ivf).this.disown()
        refine.own_fields = True
        refine.k_factor = REFINE_FACTOR
        index = refine
        params.update(nlist=nlist, codes="sq8", refine_factor=REFINE_FACTOR)
    else:
        hnsw = faiss.IndexHNSWFlat(dim, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        hnsw.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        index = hnsw
        params["hnsw_m"] = HNSW_M
    index.add(vectors)
    params["search_param"], params["recall_at_10"] = tune_search_param(index, vectors, target_recall,
                                                                       seed=seed)
    set_search_param(index, params["search_param"])
    if params["recall_at_10"] < target_recall:
        log.warning("%s index reaches recall@10 %.3f at its largest search setting %s, below the "
                    "target %.3f", kind, params["recall_at_10"], params["search_param"], target_recall)
    return index, params


def search_vectors(index: faiss.Index, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Top-``k`` inner products: ``(scores float32[Q, k'], rows int64[Q, k'])`` with ``k' = min(k, N)``.

    Approximate indexes may find fewer than ``k'`` for a query; such slots hold row ``-1``.
    """
    queries = np.ascontiguousarray(queries, dtype=np.float32)
    if queries.ndim != 2 or queries.shape[1] != index.d:
        raise ValueError(f"queries must be [Q, {index.d}], got shape {queries.shape}")
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    k = min(k, index.ntotal)
    if k == 0:
        return np.zeros((len(queries), 0), np.float32), np.zeros((len(queries), 0), np.int64)
    return index.search(queries, k)

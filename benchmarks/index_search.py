"""Search latency and recall of the image index's approximate search at a million vectors.

Run: ``python benchmarks/index_search.py [--n 1000000] [--dim 512] [--kinds ivf,hnsw]``
(defaults: 1,000,000 x 512, IVF; about 2 GB for the vectors plus the same again inside the index).
Writes ``benchmarks/results/index_search.json``.

Data: unit vectors drawn around random cluster centres with uneven (Zipf) cluster sizes, not uniform
on the sphere. Uniform points in 512 dimensions are all nearly orthogonal — every point is almost
equally far from every query, so "nearest" is noise and any partitioning index looks hopeless —
whereas real embedding collections are clustered by content (many photos of dogs, few of lighthouses),
which is the structure IVF cells and HNSW graphs exploit. Queries are held-out perturbations of stored
vectors (cosine ~0.7 to their source, like a text query near but never on an image), drawn with a seed
other than the one the index uses to tune ``nprobe``.

Reported: build time, the tuned parameter, single-query latency p50/p99 (one query per call, as the
service issues them) of the approximate index and of exact search, and recall@10 against exact search.
Targets: p50 and p99 under 5 ms, recall@10 >= 0.95.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import faiss
import numpy as np

from simclip.serve.vector_index import build_vector_index, proxy_queries, recall_at_k

RESULTS = Path(__file__).parent / "results" / "index_search.json"


def clustered_unit_vectors(n: int, dim: int, clusters: int, spread: float, seed: int,
                           chunk: int = 100_000) -> np.ndarray:
    """``float32[n, dim]`` unit vectors: Zipf-sized clusters around random unit centres.

    ``spread`` is the per-coordinate noise relative to a unit centre's per-coordinate scale
    (1/sqrt(dim)): at 1.0 a member's cosine to its centre is ~0.7. Filled in chunks so that peak
    memory stays near the output's own 4 * n * dim bytes.
    """
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((clusters, dim)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    weights = 1.0 / np.arange(1, clusters + 1)
    labels = rng.choice(clusters, size=n, p=weights / weights.sum())
    out = np.empty((n, dim), np.float32)
    for start in range(0, n, chunk):
        rows = slice(start, min(start + chunk, n))
        noise = rng.standard_normal((rows.stop - start, dim), dtype=np.float32) * (spread / np.sqrt(dim))
        block = centres[labels[rows]] + noise
        out[rows] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return out


def single_query_latency_ms(index: faiss.Index, queries: np.ndarray, k: int, threads: int) -> np.ndarray:
    """Milliseconds of ``index.search`` for each query alone (after one warm-up call) on ``threads``."""
    restore = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(threads)
    index.search(queries[:1], k)
    times = np.empty(len(queries))
    for i in range(len(queries)):
        start = time.perf_counter()
        index.search(queries[i:i + 1], k)
        times[i] = (time.perf_counter() - start) * 1e3
    faiss.omp_set_num_threads(restore)
    return times


def summary(ms: np.ndarray) -> dict[str, float]:
    return {"p50_ms": round(float(np.percentile(ms, 50)), 3), "p90_ms": round(float(np.percentile(ms, 90)), 3),
            "p99_ms": round(float(np.percentile(ms, 99)), 3),
            "mean_ms": round(float(ms.mean()), 3), "queries": int(len(ms))}


def run_kind(kind: str, vectors: np.ndarray, queries: np.ndarray, truth: np.ndarray, k: int,
             target_recall: float, threads: int) -> dict:
    start = time.perf_counter()
    index, params = build_vector_index(vectors, kind, target_recall=target_recall)
    build_s = time.perf_counter() - start
    latency = summary(single_query_latency_ms(index, queries, k, threads))
    _, found = index.search(queries, k)
    recall = recall_at_k(found, truth)
    print(f"{kind}: built in {build_s:.1f} s, {params}; p50 {latency['p50_ms']} ms, "
          f"p99 {latency['p99_ms']} ms, recall@{k} {recall:.4f}")
    return {"kind": kind, "build_s": round(build_s, 1), "params": params, "latency": latency,
            f"recall_at_{k}": round(recall, 4),
            "meets_targets": bool(latency["p99_ms"] < 5 and latency["p50_ms"] < 5 and recall >= 0.95)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--clusters", type=int, default=2000)
    parser.add_argument("--spread", type=float, default=1.0)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--exact-queries", type=int, default=50, help="single-query timings of exact search")
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--kinds", default="ivf", help="comma-separated: ivf, hnsw (hnsw builds slowly)")
    parser.add_argument("--target-recall", type=float, default=0.97, help="what nprobe/efSearch are tuned to")
    parser.add_argument("--build-threads", type=int, default=None, help="FAISS threads for building (default all)")
    parser.add_argument("--search-threads", type=int, default=1,
                        help="FAISS threads for the single-query timings (default 1, as the service runs)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--note", default="", help="conditions of the run, stored in the JSON")
    parser.add_argument("--json", default=str(RESULTS))
    args = parser.parse_args()
    if args.build_threads:
        faiss.omp_set_num_threads(args.build_threads)
    build_threads = faiss.omp_get_max_threads()

    start = time.perf_counter()
    vectors = clustered_unit_vectors(args.n, args.dim, args.clusters, args.spread, args.seed)
    queries = proxy_queries(vectors, args.queries, seed=args.seed + 1)
    print(f"data: {args.n:,} x {args.dim} ({vectors.nbytes / 2**30:.2f} GiB) in {time.perf_counter() - start:.1f} s")
    start = time.perf_counter()
    _, truth = faiss.knn(queries, vectors, args.k, metric=faiss.METRIC_INNER_PRODUCT)
    print(f"exact top-{args.k} of {len(queries)} queries (batched) in {time.perf_counter() - start:.1f} s")
    flat = faiss.IndexFlatIP(args.dim)
    flat.add(vectors)
    exact = summary(single_query_latency_ms(flat, queries[:args.exact_queries], args.k, args.search_threads))
    del flat
    print(f"exact single-query: p50 {exact['p50_ms']} ms, p99 {exact['p99_ms']} ms")
    runs = [run_kind(kind, vectors, queries, truth, args.k, args.target_recall, args.search_threads)
            for kind in args.kinds.split(",") if kind]
    result = {
        "benchmark": "index_search", "n": args.n, "dim": args.dim, "clusters": args.clusters,
        "spread": args.spread, "k": args.k, "queries": args.queries, "target_recall_tuned": args.target_recall,
        "targets": {"p50_ms": 5, "p99_ms": 5, "recall_at_10": 0.95},
        "exact_single_query": exact, "approximate": runs, "note": args.note,
        "machine": {"cpus": os.cpu_count(), "build_threads": build_threads, "search_threads": args.search_threads,
                    "platform": platform.platform(), "faiss": faiss.__version__},
    }
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(result, indent=2))
    print(f"-> {args.json}")


if __name__ == "__main__":
    main()

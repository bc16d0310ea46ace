"""Retrieval at scale (issue 7, bench item 4): dense query latency p50/p99 and recall@10 against
exact (brute-force) search on the embedded engine (qdrant-edge) at 10k, 100k and — behind a
flag — 1M chunks, with build time (upserts, then the HNSW build) and memory.

    .venv/bin/python bench/retrieval_scale.py                      # 10k and 100k, ~3 minutes
    .venv/bin/python bench/retrieval_scale.py --sizes 10000,100000,1000000   # + 1M, ~25 minutes
    .venv/bin/python bench/retrieval_scale.py --m 16 --ef-construct 100 --ef 16,32,64,128

Vectors are synthetic but shaped like sentence embeddings rather than uniform noise (on which
no ANN index does well): unit vectors around random topic centres (one per 100 chunks, at least
1,024; cosine ~0.64 to their centre, ~0.4 within a topic, ~0 across); queries are fresh draws
from the same mixture. The
collection is the product's layout (``QdrantEdgeIndex``: the named dense vector, cosine, the
BM25 sparse vector, keyword indexes on document_id/version/state) and queries go through the
adapter's own ``search`` (dense mode: the ``state = live`` filter, payload returned, converted
to passages) — the path a chat job takes after embedding its question. ``ef`` variants use the
same request with ``SearchParams(hnsw_ef=...)``. Exact top-10 is numpy over the same vectors.

Each size runs in a fresh subprocess (so memory is per size) with its own temp directory.
Threads are set on purpose: BLAS/OpenMP 1 (numpy's ground truth is outside the timings); the
engine's search pool and HNSW builder use its defaults (the 2 cores). Queries are sequential,
one at a time, after a warm-up. Memory: RSS growth from before the first upsert to after the
HNSW build (vectors, graph, payload, id tracker; the ground-truth matrix is allocated before),
and the shard's size on disk. Writes bench/results/retrieval_scale.json.
"""

from __future__ import annotations

import os

for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DIM = 384
NOISE = 1.2  # noise norm relative to a topic centre's: cosine ~0.64 to it, ~0.4 within a topic
TARGET_P50_MS_AT_100K = 5.0
COLLECTION = "bench"


def rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1024 / 1024


def du_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1024 / 1024


def mixture(rng: np.random.Generator, centres: np.ndarray, n: int) -> np.ndarray:
    noise = rng.standard_normal((n, DIM), dtype=np.float32) * np.float32(NOISE / np.sqrt(DIM))
    x = centres[rng.integers(0, len(centres), n)] + noise
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def run_one(n: int, queries: int, efs: list[int], m: int | None, ef_construct: int | None) -> dict:
    from qdrant_edge import (
        Distance, EdgeConfig, EdgeShard, EdgeSparseVectorParams, EdgeVectorParams, HnswIndexConfig,
        Modifier, PayloadSchemaType, Point, QueryRequest, Query, SearchParams, UpdateOperation,
    )

    from ragcore.adapters.qdrant_edge_index import QdrantEdgeIndex, _filter
    from ragcore.adapters.qdrant_requests import LIVE_ONLY
    from ragcore.adapters.qdrant_schema import DENSE_VECTOR, INDEXED_KEYWORDS, LIVE, SPARSE_VECTOR, STATE_FIELD
    from ragcore.domain.retrieval import RetrievalMode, SearchQuery
    from ragcore.observability.stats import percentile

    rng = np.random.default_rng(7)
    centres = rng.standard_normal((max(1024, n // 100), DIM), dtype=np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    data = np.empty((n, DIM), np.float32)
    for start in range(0, n, 100_000):
        data[start : start + 100_000] = mixture(rng, centres, min(100_000, n - start))
    qs = mixture(rng, centres, queries + 20)
    exact = np.argsort(-(qs @ data.T), axis=1)[:, :10] if n <= 200_000 else _topk_blocked(qs, data)

    workdir = Path(tempfile.mkdtemp(prefix="ragcore-bench-retrieval-"))
    index = QdrantEdgeIndex(workdir, DIM)
    # The product's layout (QdrantEdgeIndex._config and _shard), plus HNSW settings when tuning.
    hnsw = None
    if m is not None or ef_construct is not None:
        hnsw = HnswIndexConfig(m=m or 16, ef_construct=ef_construct or 100, full_scan_threshold=10_000)
    config = EdgeConfig(
        vectors={DENSE_VECTOR: EdgeVectorParams(size=DIM, distance=Distance.Cosine)},
        sparse_vectors={SPARSE_VECTOR: EdgeSparseVectorParams(modifier=Modifier.Idf)},
        hnsw_config=hnsw,
    )
    shard = EdgeShard.create(str(workdir / COLLECTION), config)
    for field in INDEXED_KEYWORDS:
        shard.update(UpdateOperation.create_field_index(field, PayloadSchemaType.Keyword))
    index._shards[COLLECTION] = shard

    rss0 = rss_mb()
    started = time.perf_counter()
    for start in range(0, n, 1000):
        points = [
            Point(i, {DENSE_VECTOR: data[i].tolist()},
                  {"chunk_id": str(i), "document_id": f"d{i // 5}", "version": "v", "title": "t",
                   "source": "s", "text": "", "position": i % 5, STATE_FIELD: LIVE})
            for i in range(start, min(n, start + 1000))
        ]
        shard.update(UpdateOperation.upsert_points(points))
    upsert_s = time.perf_counter() - started

    def measure(search) -> dict:  # type: ignore[no-untyped-def]
        for q in qs[:20]:
            search(q)
        lat, recall = [], []
        for qi in range(20, len(qs)):
            t = time.perf_counter()
            ids = search(qs[qi])
            lat.append((time.perf_counter() - t) * 1000)
            recall.append(len(set(ids) & set(exact[qi].tolist())) / 10)
        return {"p50_ms": round(percentile(lat, 0.5), 3), "p99_ms": round(percentile(lat, 0.99), 3),
                "recall@10": round(float(np.mean(recall)), 4)}

    def product(q: np.ndarray) -> list[int]:
        found = index.search(COLLECTION, SearchQuery("", q.tolist(), RetrievalMode.DENSE), 10)
        return [int(p.chunk_id) for p in found]

    def with_params(params: SearchParams):  # type: ignore[no-untyped-def]
        def search(q: np.ndarray) -> list[int]:
            hits = shard.query(QueryRequest(limit=10, query=Query.Nearest(q.tolist(), using=DENSE_VECTOR),
                                            filter=_filter(LIVE_ONLY), with_payload=True, params=params))
            return [int(h.id) for h in hits]
        return search

    rows: dict[str, dict] = {}
    rows["before optimize (as ingested)"] = measure(product)
    started = time.perf_counter()
    shard.optimize()
    optimize_s = time.perf_counter() - started
    info = shard.info()
    rss1 = rss_mb()
    rows["optimized, product path"] = measure(product)
    for ef in efs:
        rows[f"optimized, hnsw_ef={ef}"] = measure(with_params(SearchParams(hnsw_ef=ef)))
    rows["exact=True (engine brute force)"] = measure(with_params(SearchParams(exact=True)))
    index.close()
    return {
        "chunks": n, "queries": queries, "upsert_s": round(upsert_s, 1), "optimize_s": round(optimize_s, 1),
        "segments": info.segments_count, "indexed_vectors": info.indexed_vectors_count,
        "index_rss_mb": round(rss1 - rss0), "disk_mb": round(du_mb(workdir)), "peak_rss_mb": round(
            __import__("resource").getrusage(__import__("resource").RUSAGE_SELF).ru_maxrss / 1024),
        "hnsw": {"m": m or 16, "ef_construct": ef_construct or 100}, "searches": rows,
    }


def _topk_blocked(qs: np.ndarray, data: np.ndarray) -> np.ndarray:
    best_s = np.full((len(qs), 10), -np.inf, np.float32)
    best_i = np.zeros((len(qs), 10), np.int64)
    for start in range(0, len(data), 200_000):
        s = qs @ data[start : start + 200_000].T
        top = np.argpartition(-s, 10, axis=1)[:, :10]
        cand_s = np.concatenate([best_s, np.take_along_axis(s, top, 1)], 1)
        cand_i = np.concatenate([best_i, top + start], 1)
        order = np.argsort(-cand_s, axis=1)[:, :10]
        best_s, best_i = np.take_along_axis(cand_s, order, 1), np.take_along_axis(cand_i, order, 1)
    return best_i


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--ef", default="32,64,128", help="hnsw_ef values to try after the build")
    parser.add_argument("--m", type=int, default=None, help="HNSW m (default: the engine's, 16)")
    parser.add_argument("--ef-construct", type=int, default=None, help="default: the engine's, 100")
    parser.add_argument("--json", type=Path, default=ROOT / "bench/results/retrieval_scale.json")
    parser.add_argument("--one", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    efs = [int(x) for x in args.ef.split(",") if x]
    if args.one:
        print(json.dumps(run_one(args.one, args.queries, efs, args.m, args.ef_construct)))
        return

    results = []
    load_before = os.getloadavg()
    for n in (int(x) for x in args.sizes.split(",")):
        print(f"building {n:,} chunks ...", file=sys.stderr, flush=True)
        cmd = [sys.executable, __file__, "--one", str(n), "--queries", str(args.queries), "--ef", args.ef]
        if args.m:
            cmd += ["--m", str(args.m)]
        if args.ef_construct:
            cmd += ["--ef-construct", str(args.ef_construct)]
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        results.append(json.loads(out.strip().splitlines()[-1]))

    print(f"\n{'chunks':>9} {'search':<34}{'p50 ms':>8}{'p99 ms':>8}{'recall@10':>10}  target")
    for r in results:
        for name, s in r["searches"].items():
            verdict = ""
            if r["chunks"] == 100_000 and name == "optimized, product path":
                verdict = f"p50 <= {TARGET_P50_MS_AT_100K:g} ms: " + (
                    "PASS" if s["p50_ms"] <= TARGET_P50_MS_AT_100K else "MISS")
            print(f"{r['chunks']:>9,} {name:<34}{s['p50_ms']:>8.2f}{s['p99_ms']:>8.2f}{s['recall@10']:>10.3f}  {verdict}")
    print(f"\n{'chunks':>9}{'upsert s':>10}{'HNSW build s':>14}{'segments':>10}{'index RSS MB':>14}"
          f"{'disk MB':>9}{'peak RSS MB':>13}")
    for r in results:
        print(f"{r['chunks']:>9,}{r['upsert_s']:>10.1f}{r['optimize_s']:>14.1f}{r['segments']:>10}"
              f"{r['index_rss_mb']:>14}{r['disk_mb']:>9}{r['peak_rss_mb']:>13}")
    load_after = os.getloadavg()
    print(f"load average before/after: {load_before[0]:.2f} / {load_after[0]:.2f}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"results": results, "target_p50_ms_at_100k": TARGET_P50_MS_AT_100K,
                                     "machine": {"cpus": os.cpu_count(), "load_before": load_before,
                                                 "load_after": load_after}}, indent=2) + "\n")
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()

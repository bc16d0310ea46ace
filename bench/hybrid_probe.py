"""Exploratory probe for issue 3: BM25 and dense+BM25 fusion on the chunks that
`ragcore eval beir` already embedded, fused inside Qdrant (Prefetch + Fusion), compared with
dense alone. It reuses the dense vectors, so it needs no re-embedding (about a minute).

    QDRANT_PATH=/tmp/scifact-q .venv/bin/ragcore eval beir ../shared/datasets/scifact --split train
    .venv/bin/python bench/hybrid_probe.py /tmp/scifact-q/beir-scifact ../shared/datasets/scifact train

Not the product's retrieval path yet: it builds a scratch shard with a BM25 sparse vector
(qdrant-edge's built-in Bm25, IDF modifier) next to the dense one and prints a table.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

from qdrant_edge import (
    Bm25, Bm25Config, Distance, EdgeConfig, EdgeShard, EdgeSparseVectorParams, EdgeVectorParams,
    Fusion, Modifier, Point, Prefetch, Query, QueryRequest, ScrollRequest, UpdateOperation,
)

from ragcore.adapters.onnx_embedder import OnnxEmbedder
from ragcore.adapters.qdrant_payload import passage_of
from ragcore.config import DEFAULT_MODEL_DIR
from ragcore.evaluation.beir import rank_documents, read_qrels, read_queries
from ragcore.evaluation.metrics import ndcg_at_k, recall_at_k

POOL = 400  # chunks per stage, enough for 100 distinct documents


def copy_with_bm25(source: Path, bm25: Bm25) -> EdgeShard:
    shard = EdgeShard.load(str(source))
    records, offset = [], None
    while True:
        page, offset = shard.scroll(ScrollRequest(offset=offset, limit=1000, with_payload=True, with_vector=True))
        records += page
        if offset is None:
            break
    shard.close()
    target = EdgeShard.create(tempfile.mkdtemp(), EdgeConfig(
        vectors={"dense": EdgeVectorParams(size=384, distance=Distance.Cosine)},
        sparse_vectors={"bm25": EdgeSparseVectorParams(modifier=Modifier.Idf)},
    ))
    points = [Point(r.id, {"dense": r.vector["dense"], "bm25": bm25.embed_document(r.payload["text"])}, r.payload)
              for r in records]
    for start in range(0, len(points), 500):
        target.update(UpdateOperation.upsert_points(points[start:start + 500]))
    target.flush()
    return target


def main(source: Path, benchmark: Path, split: str) -> None:
    bm25 = Bm25(Bm25Config(language="english"))
    shard = copy_with_bm25(source, bm25)
    qrels = read_qrels(benchmark, split)
    queries = {q: t for q, t in read_queries(benchmark).items() if q in qrels}
    embedder = OnnxEmbedder(DEFAULT_MODEL_DIR, threads=2)
    vectors = {q: (embedder.embed([t])[0], bm25.embed_query(t)) for q, t in queries.items()}

    def both(dense: list[float], sparse) -> list[Prefetch]:  # type: ignore[no-untyped-def]
        return [Prefetch(limit=POOL, query=Query.Nearest(dense, using="dense")),
                Prefetch(limit=POOL, query=Query.Nearest(sparse, using="bm25"))]

    modes: dict[str, Callable] = {
        "dense": lambda d, s: QueryRequest(limit=POOL, query=Query.Nearest(d, using="dense"), with_payload=True),
        "bm25 (idf)": lambda d, s: QueryRequest(limit=POOL, query=Query.Nearest(s, using="bm25"), with_payload=True),
        "rrf k=2": lambda d, s: QueryRequest(limit=POOL, prefetches=both(d, s), query=Fusion.Rrf(k=2), with_payload=True),
        "rrf k=60": lambda d, s: QueryRequest(limit=POOL, prefetches=both(d, s), query=Fusion.Rrf(k=60), with_payload=True),
        "dbsf": lambda d, s: QueryRequest(limit=POOL, prefetches=both(d, s), query=Fusion.Dbsf(), with_payload=True),
    }
    print(f"{'mode':<14}{'nDCG@10':>9}{'R@10':>8}{'R@100':>8}{'p50 ms':>8}   ({len(queries)} queries)")
    for name, request in modes.items():
        ndcg, r10, r100, latency = [], [], [], []
        for q, (dense, sparse) in vectors.items():
            t0 = time.perf_counter()
            hits = shard.query(request(dense, sparse))
            latency.append((time.perf_counter() - t0) * 1000)
            ranking = rank_documents([passage_of(h.payload or {}, h.score) for h in hits])[:100]
            ndcg.append(ndcg_at_k(ranking, qrels[q], 10))
            r10.append(recall_at_k(ranking, qrels[q], 10))
            r100.append(recall_at_k(ranking, qrels[q], 100))
        print(f"{name:<14}{statistics.fmean(ndcg):>9.4f}{statistics.fmean(r10):>8.4f}"
              f"{statistics.fmean(r100):>8.4f}{statistics.median(latency):>8.1f}")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3])

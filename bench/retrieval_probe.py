"""Retrieval design probe (issue 3): how chunk size, overlap, what BM25 indexes, BM25
parameters, prefetch depth and the fusion move nDCG@10 on a BEIR corpus — without
re-embedding a chunk it has embedded before (vectors are cached on disk by text hash).

    .venv/bin/python bench/retrieval_probe.py ../shared/datasets/scifact --split train \\
        --words 100 --overlap 30

It uses the product's chunker, embedder, BM25 model and Qdrant engine (qdrant-edge) but builds
its own scratch shard, with every sparse variant side by side, so one run compares them all.
The product path itself is measured by `ragcore eval beir` (docs/RETRIEVAL.md).
"""

from __future__ import annotations

import argparse
import hashlib
import pickle
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from qdrant_edge import (
    Bm25, Bm25Config, Distance, EdgeConfig, EdgeShard, EdgeSparseVectorParams, EdgeVectorParams,
    Fusion, Modifier, Point, Prefetch, Query, QueryRequest, UpdateOperation,
)

from ragcore.adapters.onnx_embedder import OnnxEmbedder
from ragcore.adapters.qdrant_schema import passage_of
from ragcore.config import DEFAULT_MODEL_DIR
from ragcore.domain.chunking import chunk_text
from ragcore.evaluation.beir import rank_documents, read_corpus, read_qrels, read_queries
from ragcore.evaluation.metrics import ndcg_at_k, recall_at_k


class CachedEmbedder:
    def __init__(self, path: Path, model_dir: Path) -> None:
        self.path = path
        self.cache: dict[str, np.ndarray] = pickle.loads(path.read_bytes()) if path.exists() else {}
        self.model = OnnxEmbedder(model_dir, threads=2)

    def embed(self, texts: list[str]) -> list[list[float]]:
        keys = [hashlib.sha1(t.encode()).hexdigest() for t in texts]
        missing = [i for i, k in enumerate(keys) if k not in self.cache]
        started = time.perf_counter()
        for start in range(0, len(missing), 512):
            part = missing[start : start + 512]
            for i, vector in zip(part, self.model.embed([texts[i] for i in part])):
                self.cache[keys[i]] = np.asarray(vector, np.float32)
            print(f"  embedded {start + len(part)}/{len(missing)}", file=sys.stderr, flush=True)
        if missing:
            rate = len(missing) / (time.perf_counter() - started)
            print(f"  {len(missing)} new texts at {rate:.1f}/s", file=sys.stderr)
            self.path.write_bytes(pickle.dumps(self.cache))
        return [self.cache[k].tolist() for k in keys]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("benchmark", type=Path)
    parser.add_argument("--split", default="train")
    parser.add_argument("--words", type=int, default=100)
    parser.add_argument("--overlap", type=int, default=30)
    parser.add_argument("--neighbours", type=int, default=1, help="chunks each side in a chunk's context")
    parser.add_argument("--k", type=float, default=1.2)
    parser.add_argument("--b", type=float, default=0.75)
    parser.add_argument("--avg-len", type=float, default=256.0)
    parser.add_argument("--pool", type=int, default=400, help="candidates per retriever before fusion")
    parser.add_argument("--model-dir", type=Path, default=DEFAULT_MODEL_DIR, help="e.g. a quantised export")
    parser.add_argument("--cache", type=Path, default=Path(".data/bench/embeddings.pkl"),
                        help="one cache per model")
    args = parser.parse_args()
    args.cache.parent.mkdir(parents=True, exist_ok=True)

    rows, sparse_texts = [], {"chunk": [], "context": [], "document": []}
    for document in read_corpus(args.benchmark):
        for piece in chunk_text(document.text, args.words, args.overlap, args.neighbours):
            rows.append({"document_id": document.document_id, "chunk_id": f"{document.document_id}#{piece.position}",
                         "title": document.title, "source": "", "text": piece.text})
            sparse_texts["chunk"].append(piece.text)
            sparse_texts["context"].append(piece.context)
            sparse_texts["document"].append(document.text)
    embedder = CachedEmbedder(args.cache, args.model_dir)
    vectors = embedder.embed([r["text"] for r in rows])
    bm25 = Bm25(Bm25Config(language="english", k=args.k, b=args.b, avg_len=args.avg_len))
    shard = EdgeShard.create(tempfile.mkdtemp(), EdgeConfig(
        vectors={"dense": EdgeVectorParams(size=384, distance=Distance.Cosine)},
        sparse_vectors={name: EdgeSparseVectorParams(modifier=Modifier.Idf) for name in sparse_texts},
    ))
    points = [
        Point(i, {"dense": vectors[i], **{n: bm25.embed_document(t[i]) for n, t in sparse_texts.items()}}, row)
        for i, row in enumerate(rows)
    ]
    for start in range(0, len(points), 1000):
        shard.update(UpdateOperation.upsert_points(points[start : start + 1000]))

    qrels = read_qrels(args.benchmark, args.split)
    queries = {q: t for q, t in read_queries(args.benchmark).items() if q in qrels}
    query_vectors = dict(zip(queries, embedder.embed(list(queries.values()))))
    pool = args.pool

    def near(vector, using: str) -> Prefetch:  # type: ignore[no-untyped-def]
        return Prefetch(limit=pool, query=Query.Nearest(vector, using=using))

    modes = {"dense": ["dense"], **{f"bm25 {n}": [n] for n in sparse_texts}}
    fusions = {f"dense+{n}": ["dense", n] for n in sparse_texts}
    print(f"{len(rows)} chunks (≤{args.words} words, overlap {args.overlap}, context ±{args.neighbours}); BM25 k={args.k} b={args.b} "
          f"avg_len={args.avg_len}; pool {pool}; {len(queries)} queries")
    print(f"{'mode':<22}{'nDCG@10':>9}{'R@10':>8}{'R@100':>8}")
    for name, using in [*modes.items(), *[(f"{f} {kind}", u) for f, u in fusions.items() for kind in ("dbsf", "rrf")]]:
        ndcg, r10, r100 = [], [], []
        for qid, text in queries.items():
            sparse = bm25.embed_query(text)
            vector_of = lambda u: query_vectors[qid] if u == "dense" else sparse  # noqa: E731
            if len(using) == 1:
                request = QueryRequest(limit=pool, query=Query.Nearest(vector_of(using[0]), using=using[0]),
                                       with_payload=True)
            else:
                fusion = Fusion.Dbsf() if name.endswith("dbsf") else Fusion.Rrf(k=2)
                request = QueryRequest(limit=pool, prefetches=[near(vector_of(u), u) for u in using],
                                       query=fusion, with_payload=True)
            hits = shard.query(request)
            ranking = rank_documents([passage_of(h.payload or {}, h.score) for h in hits])[:100]
            ndcg.append(ndcg_at_k(ranking, qrels[qid], 10))
            r10.append(recall_at_k(ranking, qrels[qid], 10))
            r100.append(recall_at_k(ranking, qrels[qid], 100))
        print(f"{name:<22}{statistics.fmean(ndcg):>9.4f}{statistics.fmean(r10):>8.4f}{statistics.fmean(r100):>8.4f}",
              flush=True)


if __name__ == "__main__":
    main()

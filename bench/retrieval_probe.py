"""Retrieval design probe: how chunking, what each vector indexes, prefetch depth, the fusion
and query-time feedback move nDCG@10 on a BEIR corpus — without re-embedding a text it has
embedded before (vectors are cached on disk by text hash, one cache per model).

    .venv/bin/python bench/retrieval_probe.py ../shared/datasets/scifact --split train

It uses the product's chunker, embedder, BM25 model and Qdrant engine (qdrant-edge) but builds
its own scratch shard with every variant side by side, so one run compares them all. Each row
is scored on the tuning and the validation part of the judged queries
(``ragcore.evaluation.query_sets``): choose on tuning, check on validation. The product path
itself is measured by `ragcore eval beir` (docs/RETRIEVAL.md).
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
from typing import Callable

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
from ragcore.evaluation.query_sets import query_set_of


class CachedEmbedder:
    def __init__(self, path: Path, model_dir: Path) -> None:
        self.path = path
        self.cache: dict[str, np.ndarray] = pickle.loads(path.read_bytes()) if path.exists() else {}
        self.model = OnnxEmbedder(model_dir, threads=2)

    def embed(self, texts: list[str]) -> list[np.ndarray]:
        keys = [hashlib.sha1(t.encode()).hexdigest() for t in texts]
        missing = [i for i, k in enumerate(keys) if k not in self.cache]
        embed = self.model.embed
        started = time.perf_counter()
        for start in range(0, len(missing), 512):
            part = missing[start : start + 512]
            for i, vector in zip(part, embed([texts[i] for i in part])):
                self.cache[keys[i]] = np.asarray(vector, np.float32)
            print(f"  embedded {start + len(part)}/{len(missing)}", file=sys.stderr, flush=True)
        if missing:
            rate = len(missing) / (time.perf_counter() - started)
            print(f"  {len(missing)} new texts at {rate:.1f}/s", file=sys.stderr)
            self.path.write_bytes(pickle.dumps(self.cache))
        return [self.cache[k] for k in keys]


def window_means(vectors: list[np.ndarray], document_of: list[str], neighbours: int) -> list[list[float]]:
    """Each chunk's vector averaged with its neighbours' in the same document (unit length):
    a dense vector of the chunk's context at no extra embedding cost."""
    out = []
    for i in range(len(vectors)):
        window = [vectors[j] for j in range(max(0, i - neighbours), min(len(vectors), i + neighbours + 1))
                  if document_of[j] == document_of[i]]
        mean = np.mean(window, axis=0)
        out.append((mean / np.linalg.norm(mean)).tolist())
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("benchmark", type=Path)
    parser.add_argument("--split", default="train")
    parser.add_argument("--words", type=int, default=60)
    parser.add_argument("--overlap", type=int, default=20)
    parser.add_argument("--neighbours", type=int, default=2, help="chunks each side in a chunk's context")
    parser.add_argument("--pool", type=int, default=1000, help="candidates per retriever before fusion")
    parser.add_argument("--feedback", type=int, default=5,
                        help="top chunks whose vectors feed the query back")
    parser.add_argument("--model-dir", type=Path, default=DEFAULT_MODEL_DIR, help="e.g. another export")
    parser.add_argument("--cache", type=Path, default=Path(".data/bench/embeddings.pkl"),
                        help="one cache per model")
    args = parser.parse_args()
    args.cache.parent.mkdir(parents=True, exist_ok=True)

    rows, contexts, document_of = [], [], []
    for document in read_corpus(args.benchmark):
        for piece in chunk_text(document.text, args.words, args.overlap, args.neighbours):
            rows.append({"document_id": document.document_id,
                         "chunk_id": f"{document.document_id}#{piece.position}",
                         "title": document.title, "source": "", "text": piece.text})
            contexts.append(piece.context)
            document_of.append(document.document_id)
    embedder = CachedEmbedder(args.cache, args.model_dir)
    vectors = embedder.embed([r["text"] for r in rows])
    context_vectors = window_means(vectors, document_of, args.neighbours)
    dimension = len(vectors[0])
    bm25 = Bm25(Bm25Config(language="english", k=1.2, b=0.75, avg_len=256.0))
    shard = EdgeShard.create(tempfile.mkdtemp(), EdgeConfig(
        vectors={name: EdgeVectorParams(size=dimension, distance=Distance.Cosine)
                 for name in ("dense", "dense_ctx")},
        sparse_vectors={"bm25": EdgeSparseVectorParams(modifier=Modifier.Idf)},
    ))
    for start in range(0, len(rows), 1000):
        shard.update(UpdateOperation.upsert_points([
            Point(i, {"dense": vectors[i].tolist(), "dense_ctx": context_vectors[i],
                      "bm25": bm25.embed_document(contexts[i])}, rows[i])
            for i in range(start, min(start + 1000, len(rows)))
        ]))

    qrels = read_qrels(args.benchmark, args.split)
    queries = {q: t for q, t in read_queries(args.benchmark).items() if q in qrels}
    query_vectors = dict(zip(queries, embedder.embed(list(queries.values()))))
    pool = args.pool

    def nearest(vector, using: str) -> Prefetch:  # type: ignore[no-untyped-def]
        return Prefetch(limit=pool, query=Query.Nearest(vector, using=using))

    def ask(prefetches: list[Prefetch], fusion=None):  # type: ignore[no-untyped-def]
        if fusion is None:
            (only,) = prefetches
            return shard.query(QueryRequest(limit=pool, query=only.query, with_payload=True))
        return shard.query(QueryRequest(limit=pool, prefetches=prefetches, query=fusion, with_payload=True))

    def fed_back(qid: str, sparse) -> list[float]:  # type: ignore[no-untyped-def]
        """The query vector moved towards its hybrid top chunks (Rocchio, equal weights)."""
        hits = ask([nearest(query_vectors[qid].tolist(), "dense"), nearest(sparse, "bm25")], Fusion.Dbsf())
        top = np.mean([vectors[h.id] for h in hits[: args.feedback]], axis=0)
        moved = query_vectors[qid] + top
        return (moved / np.linalg.norm(moved)).tolist()

    candidates: dict[str, Callable[[str, object], list]] = {
        "dense+bm25 dbsf (reference)": lambda q, s: ask(
            [nearest(query_vectors[q].tolist(), "dense"), nearest(s, "bm25")], Fusion.Dbsf()),
        "dense (chunk)": lambda q, s: ask([nearest(query_vectors[q].tolist(), "dense")]),
        "dense (context mean)": lambda q, s: ask([nearest(query_vectors[q].tolist(), "dense_ctx")]),
        "bm25 (context)": lambda q, s: ask([nearest(s, "bm25")]),
        "dense+bm25 rrf k=2": lambda q, s: ask(
            [nearest(query_vectors[q].tolist(), "dense"), nearest(s, "bm25")], Fusion.Rrf(k=2)),
        "densectx+bm25 dbsf": lambda q, s: ask(
            [nearest(query_vectors[q].tolist(), "dense_ctx"), nearest(s, "bm25")], Fusion.Dbsf()),
        "dense+densectx+bm25 dbsf": lambda q, s: ask(
            [nearest(query_vectors[q].tolist(), "dense"), nearest(query_vectors[q].tolist(), "dense_ctx"),
             nearest(s, "bm25")], Fusion.Dbsf()),
        f"dense fed back (top {args.feedback})+bm25 dbsf": lambda q, s: ask(
            [nearest(fed_back(q, s), "dense"), nearest(s, "bm25")], Fusion.Dbsf()),
    }
    parts = {"tuning": [q for q in queries if query_set_of(q) == "tuning"],
             "validation": [q for q in queries if query_set_of(q) == "validation"]}
    print(f"{len(rows)} chunks (≤{args.words} words, overlap {args.overlap}, context ±{args.neighbours}); "
          f"pool {pool}; model {args.model_dir.name}; queries: {len(parts['tuning'])} tuning, "
          f"{len(parts['validation'])} validation")
    print(f"{'candidate':<40}{'tuning nDCG@10':>15}{'valid. nDCG@10':>15}{'all nDCG@10':>12}"
          f"{'R@10':>8}{'R@100':>8}{'ms/query':>9}{'vs reference (all)':>20}")
    reference: dict[str, float] = {}
    for name, run in candidates.items():
        ndcg, r10, r100 = {}, [], []
        started = time.perf_counter()
        for qid, text in queries.items():
            ranking = rank_documents([passage_of(h.payload or {}, h.score)
                                      for h in run(qid, bm25.embed_query(text))])[:100]
            ndcg[qid] = ndcg_at_k(ranking, qrels[qid], 10)
            r10.append(recall_at_k(ranking, qrels[qid], 10))
            r100.append(recall_at_k(ranking, qrels[qid], 100))
        ms = (time.perf_counter() - started) * 1000 / len(queries)
        tuning, validation = (statistics.fmean(ndcg[q] for q in parts[p]) for p in ("tuning", "validation"))
        if name.endswith("(reference)"):
            reference = ndcg
        # Paired difference per query and its standard error: how far a change is from noise.
        delta = [ndcg[q] - reference[q] for q in queries] if reference else [0.0, 0.0]
        versus = f"{statistics.fmean(delta):+.4f} ± {statistics.stdev(delta) / len(delta) ** 0.5:.4f}"
        print(f"{name:<40}{tuning:>15.4f}{validation:>15.4f}{statistics.fmean(ndcg.values()):>12.4f}"
              f"{statistics.fmean(r10):>8.4f}{statistics.fmean(r100):>8.4f}{ms:>9.1f}{versus:>20}",
              flush=True)


if __name__ == "__main__":
    main()

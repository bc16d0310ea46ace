"""Run a BEIR-format benchmark (corpus.jsonl, queries.jsonl, qrels/SPLIT.tsv) end to end:
ingest the corpus with the real ingestion path, answer every judged query with the real
retrieval path, score a document by its best chunk."""

from __future__ import annotations

import csv
import json
import statistics
import time
from collections import defaultdict
from pathlib import Path
from typing import Callable, Iterator

from ragcore.domain.answers import Passage
from ragcore.domain.documents import SourceDocument
from ragcore.domain.retrieval import RetrievalMode
from ragcore.evaluation.metrics import ndcg_at_k, recall_at_k
from ragcore.evaluation.query_sets import in_query_set
from ragcore.observability.stats import percentile
from ragcore.ports import Embedder, VectorIndex
from ragcore.services.ingest import IngestSummary, index_documents
from ragcore.services.parsing import ParseLimits
from ragcore.services.retrieve import retrieve

DOCS_RANKED = 100  # Recall@100 needs a hundred documents per query
CHUNKS_PER_DOC = 4  # fetch this many chunks per wanted document, since chunks of one doc repeat


def read_corpus(directory: Path) -> Iterator[SourceDocument]:
    with (directory / "corpus.jsonl").open(encoding="utf-8") as lines:
        for line in lines:
            row = json.loads(line)
            title = row.get("title") or ""
            # The title becomes the document's heading, so every chunk carries it.
            text = f"# {title}\n\n{row['text']}" if title else row["text"]
            yield SourceDocument(document_id=str(row["_id"]), title=title, text=text, source="corpus.jsonl")


def read_queries(directory: Path) -> dict[str, str]:
    with (directory / "queries.jsonl").open(encoding="utf-8") as lines:
        return {str(row["_id"]): row["text"] for row in map(json.loads, lines)}


def read_qrels(directory: Path, split: str) -> dict[str, dict[str, int]]:
    qrels: dict[str, dict[str, int]] = defaultdict(dict)
    with (directory / "qrels" / f"{split}.tsv").open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            qrels[str(row["query-id"])][str(row["corpus-id"])] = int(row["score"])
    return dict(qrels)


def rank_documents(passages: list[Passage]) -> list[str]:
    """Documents in order of their best chunk (passages arrive best first)."""
    seen: dict[str, None] = {}
    for passage in passages:
        seen.setdefault(passage.document_id, None)
    return list(seen)


def evaluate(
    directory: Path,
    split: str,
    collection: str,
    embedder: Embedder,
    index: VectorIndex,
    mode: RetrievalMode = RetrievalMode.HYBRID,
    ingest: bool = True,
    progress: Callable[[str], None] = lambda _: None,
    limits: ParseLimits = ParseLimits(),
    query_set: str = "all",
) -> dict[str, float | int | str]:
    """Ingests the corpus, then scores every judged query of ``query_set`` (``QUERY_SETS``).
    ``ingest=False`` reuses a collection an earlier run filled, to compare modes or query sets
    without embedding the corpus again."""
    qrels = read_qrels(directory, split)
    queries = {qid: text for qid, text in read_queries(directory).items()
               if qid in qrels and in_query_set(qid, query_set)}

    report: dict[str, float | int | str] = {}
    if ingest:
        started = time.perf_counter()
        summary: IngestSummary = index_documents(
            read_corpus(directory), collection, embedder, index,
            progress=lambda docs, chunks: progress(f"ingested {docs} documents, {chunks} chunks"),
            limits=limits,
        )
        seconds = time.perf_counter() - started
        report = {"documents": summary.documents, "chunks": summary.chunks,
                  "chunks_per_second": round(summary.chunks / seconds, 1)}
    # Queries run on the HNSW graph, as a served collection's do: the embedded engine builds it
    # only when asked (a no-op once built, so a --skip-ingest run on an older collection gets it
    # too). Timed apart from the ingestion rate.
    build = getattr(index, "optimize", None)
    if build is not None:
        started = time.perf_counter()
        progress("building the HNSW index")
        build(collection)
        report["index_build_seconds"] = round(time.perf_counter() - started, 1)

    ndcg10, recall10, recall100, latencies = [], [], [], []
    for qid, text in queries.items():
        found = retrieve(text, collection, DOCS_RANKED * CHUNKS_PER_DOC, mode, embedder, index)
        latencies.append((found.embed_seconds + found.search_seconds) * 1000)
        ranking = rank_documents(found.passages)[:DOCS_RANKED]
        ndcg10.append(ndcg_at_k(ranking, qrels[qid], 10))
        recall10.append(recall_at_k(ranking, qrels[qid], 10))
        recall100.append(recall_at_k(ranking, qrels[qid], 100))
    return {
        "mode": mode.value,
        "ndcg@10": round(statistics.fmean(ndcg10), 4),
        "recall@10": round(statistics.fmean(recall10), 4),
        "recall@100": round(statistics.fmean(recall100), 4),
        "latency_ms_p50": round(percentile(latencies, 0.5), 2),
        "latency_ms_p95": round(percentile(latencies, 0.95), 2),
        "query_set": query_set,
        "queries": len(queries),
        **report,
    }

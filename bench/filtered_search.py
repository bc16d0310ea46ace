"""Filtered search (issue 18): what a chat's ``filter`` costs and whether it loses results once
a collection has its HNSW graph, on the embedded engine (qdrant-edge) through the adapter's own
``search``. Metadata fields are not indexed (docs/RETRIEVAL.md, "Filters"); ``document_id`` is.

    .venv/bin/python bench/filtered_search.py                 # 20k chunks, ~1 minute
    .venv/bin/python bench/filtered_search.py --chunks 100000  # ~5 minutes
    .venv/bin/python bench/filtered_search.py --chunks 100000 --graph-walk

1,000 documents of ``chunks / 1000`` chunks each, 384-dimensional vectors shaped like sentence
embeddings (unit vectors around topic centres, as bench/retrieval_scale.py), each document's
metadata ``{"bucket": i, "group": "g<i % 20>", "published": <a day in 2024>}``. The same chunks
go into two collections: one left as written (every search a full scan: exact) and one whose
HNSW graph is built (``optimize``). Text fields ("group", "published") get keyword indexes
at ingest (``qdrant_requests.metadata_indexes``), numbers ("bucket") none. For each filter, 50
queries: dense p50 latency on each collection and the overlap of the HNSW collection's top 10
with the exact one's (1.000: the filter costs no recall), and hybrid p50 on the HNSW collection
(its fused ranking is not compared: the synthetic texts give BM25 near-ties, ordered at random).
Queries are sequential, after a warm-up; BLAS threads 1. Prints the machine's load beside.
``--graph-walk`` searches the HNSW graph whatever the filter, as the adapter did before
``qdrant_requests.scans``: what that choice prevents.
"""

from __future__ import annotations

import os

for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

import argparse  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from datetime import date, timedelta  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

from ragcore.adapters import qdrant_requests  # noqa: E402
from ragcore.adapters.qdrant_edge_index import QdrantEdgeIndex  # noqa: E402
from ragcore.domain.documents import Chunk, chunk_id_for  # noqa: E402
from ragcore.domain.filters import ChatFilter  # noqa: E402
from ragcore.domain.retrieval import RetrievalMode, SearchQuery  # noqa: E402

DIM, DOCUMENTS, QUERIES, TOP = 384, 1000, 50, 10
WORDS = "amber basalt cedar delta ember fjord garnet harbor indigo juniper".split()
FILTERS: list[tuple[str, dict[str, Any] | None]] = [
    ("none", None),
    ("document_ids: 5 documents (0.5%)", {"document_ids": [f"doc{i}" for i in range(0, 1000, 200)]}),
    ("bucket eq (0.1%)", {"metadata": {"bucket": {"eq": 7}}}),
    ("bucket < 10 (1%)", {"metadata": {"bucket": {"lt": 10}}}),
    ("group eq (5%)", {"metadata": {"group": {"eq": "g3"}}}),
    ("bucket < 100 (10%)", {"metadata": {"bucket": {"lt": 100}}}),
    ("published in Q1 (~25%)", {"metadata": {"published": {"gte": "2024-01-01", "lt": "2024-04-01"}}}),
    ("bucket < 500 (50%)", {"metadata": {"bucket": {"lt": 500}}}),
    ("group any of 3 + bucket >= 500 (7.5%)",
     {"metadata": {"group": {"any": ["g1", "g2", "g3"]}, "bucket": {"gte": 500}}}),
]


def vectors(rng: np.random.Generator, centres: np.ndarray, n: int) -> np.ndarray:
    rows = centres[rng.integers(len(centres), size=n)] + rng.normal(size=(n, DIM)) * 1.2 / np.sqrt(DIM)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def load(index: QdrantEdgeIndex, collection: str, chunks_per_doc: int, rows: np.ndarray) -> None:
    for d in range(DOCUMENTS):
        metadata = {"bucket": d, "group": f"g{d % 20}",
                    "published": (date(2024, 1, 1) + timedelta(days=d % 366)).isoformat()}
        chunks = [Chunk(chunk_id=chunk_id_for(f"doc{d}", "v1", p), document_id=f"doc{d}", version="v1",
                        title=f"doc{d}", source="bench", position=p, metadata=metadata,
                        text=f"{WORDS[d % 10]} {WORDS[p % 10]} item {d} {p}")
                  for p in range(chunks_per_doc)]
        start = d * chunks_per_doc
        index.upsert(collection, chunks, [list(r) for r in rows[start:start + chunks_per_doc]])
        index.publish(collection, f"doc{d}", "v1")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chunks", type=int, default=20000)
    parser.add_argument("--graph-walk", action="store_true", help="never scan (see above)")
    args = parser.parse_args()
    if args.graph_walk:
        qdrant_requests.scans = lambda where: False  # type: ignore[assignment]
    per_doc = args.chunks // DOCUMENTS
    rng = np.random.default_rng(5)
    centres = rng.normal(size=(max(args.chunks // 100, 64), DIM))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    rows = vectors(rng, centres, per_doc * DOCUMENTS)
    queries = vectors(rng, centres, QUERIES)
    with tempfile.TemporaryDirectory(prefix="filtered-search-") as folder:
        index = QdrantEdgeIndex(Path(folder), DIM)
        started = time.perf_counter()
        for collection in ("exact", "hnsw"):
            load(index, collection, per_doc, rows)
        index.optimize("hnsw")
        built = time.perf_counter() - started
        print(f"{per_doc * DOCUMENTS} chunks in 2 collections, HNSW built: {built:.0f} s; "
              f"load average {os.getloadavg()[0]:.1f}")
        print(f"| filter | dense p50 ms, exact | dense p50 ms, HNSW | dense top-{TOP} overlap "
              "| hybrid p50 ms, HNSW |")
        print("|---|---|---|---|---|")
        for name, given in FILTERS:
            chat_filter = None if given is None else ChatFilter.model_validate(given)
            times: dict[str, list[float]] = {"exact": [], "hnsw": [], "hybrid": []}
            same = total = 0
            for q, vector in enumerate(queries):
                found = {}
                for label, collection, mode in (("exact", "exact", RetrievalMode.DENSE),
                                                ("hnsw", "hnsw", RetrievalMode.DENSE),
                                                ("hybrid", "hnsw", RetrievalMode.HYBRID)):
                    query = SearchQuery(f"{WORDS[q % 10]} item", list(vector), mode, chat_filter)
                    if q == 0:
                        index.search(collection, query, TOP)  # warm-up
                    t = time.perf_counter()
                    found[label] = {p.chunk_id for p in index.search(collection, query, TOP)}
                    times[label].append((time.perf_counter() - t) * 1000)
                same += len(found["exact"] & found["hnsw"])
                total += len(found["exact"])
            p50 = {label: statistics.median(values) for label, values in times.items()}
            print(f"| {name} | {p50['exact']:.1f} | {p50['hnsw']:.1f} | {same / max(total, 1):.3f} | "
                  f"{p50['hybrid']:.1f} |")
        index.close()


if __name__ == "__main__":
    main()

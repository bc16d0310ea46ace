"""Do two Qdrant back ends answer alike? The same documents, edits and queries on both, compared.

    .venv/bin/python scripts/qdrant_congruence.py        # embedded vs $QDRANT_URL, else vs embedded
    QDRANT_URL=http://127.0.0.1:6333 .venv/bin/python scripts/qdrant_congruence.py
    .venv/bin/python scripts/qdrant_congruence.py --left embedded --right http://qdrant:6333

On demand, not part of the test suite (docs/QDRANT_SERVER.md). Each side is the product's own
``ports.VectorIndex``, built by ``bootstrap.Container`` from explicit settings: the embedded
engine in a fresh temporary folder, or a Qdrant server (``QDRANT_API_KEY`` if set) in a
collection named for this run and dropped at the end, so a shared server is safe. Then:

1. ingest the sample documents and the first ``--docs`` SciFact abstracts through the product's
   ingest path; every write goes to both sides with the same vectors (the embedder runs once);
2. publish a new version of every 10th document and delete every 10th other one;
3. ask each query in hybrid, dense and sparse mode at each of ``--limits``, on both sides: the
   SciFact claims judged against the loaded abstracts, and the title of every sample, replaced
   and deleted document (those find their document, if it is still there); each also with
   ``FILTER`` (a number range and a text match on the metadata every document is given), whose
   results must all be documents it allows;
4. compare the chunk ids returned, in order, where tied results (scores within
   ``--score-tolerance``) may come in any order; check that no deleted document and no old
   version of a replaced one comes back, and that every replaced document is found in its new
   version.

Prints each difference (both rankings with scores, and where they part), then a table per mode
and limit. Exits 1 on any difference or failed check, 0 otherwise.
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Sequence

from ragcore.bootstrap import Container
from ragcore.config import Settings
from ragcore.domain.answers import Passage
from ragcore.domain.documents import Chunk, SourceDocument
from ragcore.domain.filters import ChatFilter
from ragcore.domain.retrieval import RetrievalMode, SearchQuery
from ragcore.evaluation.beir import read_corpus, read_qrels, read_queries
from ragcore.ports import VectorIndex
from ragcore.services.ingest import chunks_of, find_files, index_documents, read_file

ROOT = Path(__file__).resolve().parents[1]
EDIT_EVERY = 10  # replace documents 1, 11, 21, ... and delete documents 6, 16, 26, ...
# Every document's metadata is {"part": its position % 3, "shelf": "s0" or "s1"}: this keeps
# about a third of them, through an unindexed range and a keyword-indexed match.
FILTER = ChatFilter.model_validate({"metadata": {"part": {"lt": 2}, "shelf": {"any": ["s0"]}}})


def with_metadata(documents: list[SourceDocument]) -> list[SourceDocument]:
    return [d.model_copy(update={"metadata": {**d.metadata, "part": i % 3, "shelf": f"s{i % 2}"}})
            for i, d in enumerate(documents)]


def allowed(documents: list[SourceDocument]) -> set[str]:
    """The documents ``FILTER`` keeps, read from their metadata here rather than by Qdrant."""
    return {d.document_id for d in documents if d.metadata["part"] < 2 and d.metadata["shelf"] == "s0"}


@dataclass
class Side:
    label: str
    index: VectorIndex
    container: Container


@contextmanager
def open_side(target: str, collection: str) -> Iterator[Side]:
    """``target`` is "embedded" or a server URL. ``Settings`` takes them as arguments, so the
    environment is left alone and bootstrap builds each index exactly as the service would
    (each container loads the embedder too: bootstrap reads the vector size from it). The
    server gets 60 s, not the service's 5 s, per request: an upsert here carries up to 1,024
    chunks, whose BM25 vectors the server makes."""
    if target == "embedded":
        with tempfile.TemporaryDirectory(prefix="qdrant-congruence-") as folder:
            container = Container(Settings(qdrant_url=None, qdrant_path=Path(folder)))
            index = container.vector_index
            try:
                yield Side(f"embedded ({folder})", index, container)
            finally:
                index.close()  # type: ignore[attr-defined]  # releases the shard before the folder goes
        return
    settings = Settings(qdrant_url=target, qdrant_timeout_seconds=60)
    container = Container(settings)
    try:
        yield Side(f"server {target}", container.vector_index, container)
    finally:
        from qdrant_client import QdrantClient  # the port has no "drop collection"

        key = settings.qdrant_api_key
        client = QdrantClient(url=target, api_key=key.get_secret_value() if key else None)
        client.delete_collection(collection)


class BothSides:
    """The writes of ``ports.VectorIndex``, sent to both sides in the same order with the same
    vectors, so a difference in the answers is the engines', not the inputs'."""

    def __init__(self, *indexes: VectorIndex) -> None:
        self.indexes = indexes

    def upsert(self, collection: str, chunks: Sequence[Chunk], vectors: Sequence[list[float]]) -> None:
        for index in self.indexes:
            index.upsert(collection, chunks, vectors)

    def publish(self, collection: str, document_id: str, version: str) -> None:
        for index in self.indexes:
            index.publish(collection, document_id, version)

    def delete_document(self, collection: str, document_id: str) -> None:
        for index in self.indexes:
            index.delete_document(collection, document_id)


def load_inputs(scifact: Path, docs: int, max_queries: int) -> tuple[list[SourceDocument], list[str]]:
    """The sample documents and the first ``docs`` abstracts; the claims judged against those
    abstracts and the samples' titles as queries."""
    samples = [read_file(path) for path in find_files([ROOT / "samples"])]
    if not scifact.is_dir():  # outside the repository: a weaker check on the samples alone
        print(f"no SciFact folder at {scifact} (--scifact): the samples only, asked their titles")
        return samples, [d.title for d in samples]
    abstracts = list(itertools.islice(read_corpus(scifact), docs))
    loaded = {d.document_id for d in abstracts}
    claims = read_queries(scifact)
    qrels = read_qrels(scifact, "train")
    judged = [claims[qid] for qid, relevant in qrels.items() if loaded & relevant.keys()]
    return samples + abstracts, judged[:max_queries] + [d.title for d in samples]


def new_version(document: SourceDocument) -> SourceDocument:
    return document.model_copy(update={"text": document.text + "\n\nRevised for the congruence check."})


def label(passage: Passage) -> str:
    return f"{passage.document_id}:{passage.chunk_id[:8]}"


def first_divergence(left: list[Passage], right: list[Passage], limit: int, tolerance: float) -> int | None:
    """The first position where the two rankings' ids part, beyond the order of tied results;
    None if they agree. Scores are not compared, only reported.

    Results whose left-side scores are within ``tolerance`` of each other form a tie, and
    Qdrant orders a tie arbitrarily: even two embedded engines fed the same writes return tied
    chunks (e.g. of one short abstract, whose BM25 contexts are alike) in different orders. So
    within a tie only the set of ids must match, and a tie still running at the end of two full
    lists may have been cut at different members."""
    start = 0
    while start < max(len(left), len(right)):
        end = start + 1
        while end < len(left) and abs(left[end].score - left[start].score) <= tolerance:
            end += 1
        tied = [{p.chunk_id for p in side[start:end]} for side in (left, right)]
        cut_at_limit = end == len(left) == len(right) == limit
        if tied[0] != tied[1] and not cut_at_limit:
            pairs = enumerate(itertools.zip_longest(left[start:end], right[start:end]), start)
            return next(i for i, (a, b) in pairs if not (a and b and a.chunk_id == b.chunk_id))
        start = end
    return None


def print_difference(mode: str, limit: int, query: str, left: list[Passage], right: list[Passage],
                     at: int) -> None:
    print(f"\nDIFFERENT  {mode} limit {limit}: {query!r}\n  first divergence at position {at}")
    print(f"  {'#':>3}  {'left':<28} {'score':>10}   {'right':<28} {'score':>10}")
    for position, (a, b) in enumerate(itertools.zip_longest(left, right)):
        cells = [f"{label(p):<28} {p.score:>10.6f}" if p else f"{'-':<28} {'':>10}" for p in (a, b)]
        print(f"  {position:>3}{'*' if position == at else ' '} {cells[0]}   {cells[1]}")


@dataclass
class Tally:
    """One mode at one limit."""

    queries: int = 0
    identical: int = 0  # the same ids in the same order
    tie_order: int = 0  # the same up to the order of tied results
    max_score_gap: float = 0.0  # over agreeing lists, position by position

    @property
    def different(self) -> int:
        return self.queries - self.identical - self.tie_order

    def add(self, left: list[Passage], right: list[Passage]) -> None:
        self.queries += 1
        self.identical += [p.chunk_id for p in left] == [p.chunk_id for p in right]
        self.tie_order += [p.chunk_id for p in left] != [p.chunk_id for p in right]
        self.max_score_gap = max([self.max_score_gap, *(abs(a.score - b.score) for a, b in zip(left, right))])


@dataclass
class Versions:
    """One side's results that must not exist, and the replaced documents found anew."""

    deleted_returned: set[str] = field(default_factory=set)
    stale_returned: set[str] = field(default_factory=set)
    replaced_found: set[str] = field(default_factory=set)
    filtered_out_returned: set[str] = field(default_factory=set)

    def see(self, passages: list[Passage], deleted: set[str], current: dict[str, set[str]],
            kept: set[str] | None = None) -> None:
        """``kept``: the documents the query's filter allows (None: no filter)."""
        for p in passages:
            if kept is not None and p.document_id not in kept:
                self.filtered_out_returned.add(label(p))
            if p.document_id in deleted:
                self.deleted_returned.add(label(p))
            elif p.document_id in current:
                if p.chunk_id in current[p.document_id]:
                    self.replaced_found.add(p.document_id)
                else:
                    self.stale_returned.add(label(p))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--left", default="embedded", help="'embedded' or a Qdrant server URL")
    parser.add_argument("--right", default=os.environ.get("QDRANT_URL") or "embedded",
                        help="'embedded' or a Qdrant server URL (default: $QDRANT_URL, else embedded)")
    parser.add_argument("--scifact", type=Path, default=ROOT.parent / "shared/datasets/scifact",
                        help="a BEIR-format SciFact folder (corpus.jsonl, queries.jsonl, qrels/); "
                             "without one, only the sample documents are compared")
    parser.add_argument("--docs", type=int, default=300, help="SciFact abstracts to load")
    parser.add_argument("--queries", type=int, default=50, help="at most this many SciFact claims")
    parser.add_argument("--limits", type=int, nargs="+", default=[5, 20])
    parser.add_argument("--score-tolerance", type=float, default=1e-4,
                        help="scores this close (absolute) are a tie, whose members may come in any "
                             "order; two embedded engines differ by up to ~2e-5 in BM25 scores")
    args = parser.parse_args()

    documents, queries = load_inputs(args.scifact, args.docs, args.queries)
    documents = with_metadata(documents)
    kept = allowed(documents)
    replaced = {d.document_id: new_version(d) for d in documents[1::EDIT_EVERY]}
    deleted = {d.document_id for d in documents[6::EDIT_EVERY]}
    current = {i: {c.chunk_id for c in chunks_of(d, d.content_hash())} for i, d in replaced.items()}
    queries += [d.title for d in documents if d.document_id in replaced.keys() | deleted]
    queries = list(dict.fromkeys(queries))  # a replaced sample's title only once
    collection = f"congruence_{uuid.uuid4().hex[:12]}"

    with ExitStack() as stack:
        left, right = (stack.enter_context(open_side(t, collection)) for t in (args.left, args.right))
        print(f"left:  {left.label}\nright: {right.label}\ncollection: {collection}")
        embedder = left.container.embedder
        both = BothSides(left.index, right.index)
        started = time.perf_counter()
        summary = index_documents(documents, collection, embedder, both)
        index_documents(replaced.values(), collection, embedder, both)
        for document_id in deleted:
            both.delete_document(collection, document_id)
        print(f"ingested {summary.documents} documents ({summary.chunks} chunks) on both sides, "
              f"then replaced {len(replaced)} and deleted {len(deleted)}, "
              f"in {time.perf_counter() - started:.1f} s")

        print(f"asking {len(queries)} queries x {len(RetrievalMode)} modes, without and with FILTER, "
              f"x limits {args.limits}; results whose scores are within {args.score_tolerance:g} "
              "count as tied, and may swap")
        vectors = dict(zip(queries, embedder.embed(queries)))
        tallies: dict[tuple[str, int], Tally] = {}
        versions = {"left": Versions(), "right": Versions()}
        for mode, chat_filter, limit, text in itertools.product(
                RetrievalMode, (None, FILTER), args.limits, queries):
            vector = None if mode is RetrievalMode.SPARSE else vectors[text]
            query = SearchQuery(text, vector, mode, chat_filter)
            found_left, found_right = (side.index.search(collection, query, limit) for side in (left, right))
            versions["left"].see(found_left, deleted, current, kept if chat_filter else None)
            versions["right"].see(found_right, deleted, current, kept if chat_filter else None)
            tally = tallies.setdefault((mode.value + ("+filter" if chat_filter else ""), limit), Tally())
            at = first_divergence(found_left, found_right, limit, args.score_tolerance)
            if at is None:
                tally.add(found_left, found_right)
            else:
                tally.queries += 1
                print_difference(mode.value, limit, text, found_left, found_right, at)

    return report(tallies, versions, len(replaced))


def report(tallies: dict[tuple[str, int], Tally], versions: dict[str, Versions], replaced: int) -> int:
    print(f"\n{'mode':<15}{'limit':>6}{'queries':>9}{'identical':>11}{'tie order':>11}{'different':>11}"
          "   max |score diff|")
    for (mode, limit), t in tallies.items():
        print(f"{mode:<15}{limit:>6}{t.queries:>9}{t.identical:>11}{t.tie_order:>11}{t.different:>11}"
              f"   {t.max_score_gap:.3g}")
    print()
    for side, seen in versions.items():
        print(f"{side:<6} deleted documents returned: {len(seen.deleted_returned)}; old versions returned: "
              f"{len(seen.stale_returned)}; replaced documents found in their new version: "
              f"{len(seen.replaced_found)}/{replaced}; results outside the filter: "
              f"{len(seen.filtered_out_returned)}")
        for problem in sorted(seen.deleted_returned | seen.stale_returned | seen.filtered_out_returned):
            print(f"       should be gone: {problem}")
    congruent = all(t.different == 0 for t in tallies.values()) and all(
        not v.deleted_returned and not v.stale_returned and not v.filtered_out_returned
        and len(v.replaced_found) == replaced
        for v in versions.values()
    )
    print("\nCONGRUENT" if congruent else "\nDIFFERENT (see above)")
    return 0 if congruent else 1


if __name__ == "__main__":
    sys.exit(main())

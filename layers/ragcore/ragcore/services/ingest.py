"""Indexing: chunk documents, embed the chunks in batches, upsert them, publish each document.

Used by the worker's ingest jobs, by ``ragcore ingest`` and by the evaluation harness, so all
three index exactly the same way, within the bounds per document they are given
(``ParseLimits``: the container's, from the settings; the defaults otherwise).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator

from ragcore.domain.chunking import chunk_text, title_of
from ragcore.domain.documents import Chunk, SourceDocument, chunk_id_for, document_id_from_name
from ragcore.domain.errors import DocumentTooLargeError
from ragcore.ports import Embedder, VectorIndex
from ragcore.services.parsing import TYPE_BY_SUFFIX, ParseLimits, content_type_for, parse

# Chunks per embedder call and per index upsert: few, large upserts, and a progress report per
# call. The embedder runs each text alone, so the size does not change the vectors or their cost.
EMBED_BATCH = 1024


@dataclass(frozen=True)
class IngestSummary:
    documents: int
    chunks: int


def chunks_of(document: SourceDocument, version: str, max_chunks: int = ParseLimits.max_chunks) -> list[Chunk]:
    """``version`` is the document's content hash, computed once by the caller. Refused past
    ``max_chunks`` before any chunk is embedded: many short sections make many chunks."""
    pieces = chunk_text(document.text)
    if len(pieces) > max_chunks:
        raise DocumentTooLargeError(
            f"{document.document_id!r} makes {len(pieces)} chunks; "
            f"the limit is {max_chunks} (MAX_DOCUMENT_CHUNKS)"
        )
    return [
        Chunk(
            chunk_id=chunk_id_for(document.document_id, version, piece.position),
            document_id=document.document_id,
            version=version,
            title=document.title,
            source=document.source,
            position=piece.position,
            text=piece.text,
            context=piece.context,
            metadata=document.metadata,
        )
        for piece in pieces
    ]


def index_documents(
    documents: Iterable[SourceDocument],
    collection: str,
    embedder: Embedder,
    index: VectorIndex,
    progress: Callable[[int, int], None] | None = None,
    optimize: bool = False,
    limits: ParseLimits = ParseLimits(),
) -> IngestSummary:
    """Chunks from consecutive documents share embedder batches; a document is published once
    all its chunks are in. ``progress`` gets the running counts of documents and chunks.

    ``optimize``: for bulk loads in a process of their own (``ragcore ingest``, benchmarks), let
    an embedded index build its HNSW graph at the end (``QdrantEdgeIndex.optimize``). Not for
    the worker's document jobs: the qdrant-edge binding holds the GIL while it builds (~20 s
    at 20k chunks), which would stall every other thread of the offline stack; a Qdrant server
    optimises in the background on its own."""
    counts = {"documents": 0, "chunks": 0}
    # (document id, version, chunks written once all of its chunks are in)
    unpublished: list[tuple[str, str, int]] = []

    def batches() -> Iterator[list[Chunk]]:
        pending: list[Chunk] = []
        queued = 0
        for document in documents:
            version = document.content_hash()
            chunks = chunks_of(document, version, limits.max_chunks)
            pending.extend(chunks)
            queued += len(chunks)
            unpublished.append((document.document_id, version, queued))
            while len(pending) >= EMBED_BATCH:
                yield pending[:EMBED_BATCH]
                pending = pending[EMBED_BATCH:]
        yield pending

    for batch in batches():
        if batch:
            index.upsert(collection, batch, embedder.embed([c.text for c in batch]))
            counts["chunks"] += len(batch)
        while unpublished and unpublished[0][2] <= counts["chunks"]:
            document_id, version, _ = unpublished.pop(0)
            index.publish(collection, document_id, version)
            counts["documents"] += 1
        if progress:
            progress(counts["documents"], counts["chunks"])
    build = getattr(index, "optimize", None)  # only the embedded engine has (and needs) it
    if optimize and build is not None and counts["chunks"]:
        build(collection)
    return IngestSummary(documents=counts["documents"], chunks=counts["chunks"])


def document_from_bytes(
    data: bytes,
    content_type: str,
    document_id: str,
    fallback_title: str,
    source: str,
    metadata: dict | None = None,
    title: str | None = None,
    limits: ParseLimits = ParseLimits(),
) -> SourceDocument:
    parsed = parse(data, content_type, limits)
    return SourceDocument(
        document_id=document_id,
        title=title or parsed.title or title_of(parsed.text, fallback_title),
        text=parsed.text,
        source=source,
        metadata=metadata or {},
    )


def find_files(paths: list[Path]) -> list[Path]:
    """Files of a supported type, folders searched recursively; a named file of another type
    is an error rather than silently skipped."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in TYPE_BY_SUFFIX))
        elif path.is_file():
            content_type_for(path.name)  # raises for an unsupported type
            found.append(path)
        else:
            raise FileNotFoundError(f"{path}: no such file or folder")
    return found


def read_file(path: Path, limits: ParseLimits = ParseLimits()) -> SourceDocument:
    return document_from_bytes(
        path.read_bytes(),
        content_type_for(path.name),
        document_id=document_id_from_name(path.stem),
        fallback_title=path.stem.replace("-", " ").replace("_", " "),
        source=path.name,
        limits=limits,
    )


def index_files(
    paths: list[Path],
    collection: str,
    embedder: Embedder,
    index: VectorIndex,
    progress: Callable[[int, int], None] | None = None,
    optimize: bool = False,
    limits: ParseLimits = ParseLimits(),
) -> IngestSummary:
    return index_documents(
        (read_file(p, limits) for p in find_files(paths)), collection, embedder, index, progress,
        optimize=optimize, limits=limits,
    )

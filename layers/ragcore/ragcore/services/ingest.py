"""Ingestion: chunk documents, embed the chunks in batches, upsert them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator

from ragcore.domain.chunking import chunk_text, title_of
from ragcore.domain.documents import Chunk, SourceDocument, chunk_id_for
from ragcore.ports import Embedder, VectorIndex

SUPPORTED_SUFFIXES = (".md", ".txt")
EMBED_BATCH = 64  # chunks per embedder call: large enough to amortise, small enough for memory


@dataclass(frozen=True)
class IngestSummary:
    documents: int
    chunks: int


def find_documents(paths: list[Path]) -> list[Path]:
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob("*") if p.suffix.lower() in SUPPORTED_SUFFIXES))
        elif path.suffix.lower() in SUPPORTED_SUFFIXES:
            found.append(path)
        else:
            raise ValueError(f"{path}: only {', '.join(SUPPORTED_SUFFIXES)} files are supported")
    return found


def read_document(path: Path) -> SourceDocument:
    text = path.read_text(encoding="utf-8")
    fallback = path.stem.replace("-", " ").replace("_", " ")
    return SourceDocument(document_id=path.stem, title=title_of(text, fallback), text=text, source=path.name)


def chunks_of(document: SourceDocument) -> list[Chunk]:
    return [
        Chunk(
            chunk_id=chunk_id_for(document.document_id, piece.position),
            document_id=document.document_id,
            title=document.title,
            source=document.source,
            position=piece.position,
            text=piece.text,
        )
        for piece in chunk_text(document.text)
    ]


def ingest_documents(
    documents: Iterable[SourceDocument],
    collection: str,
    embedder: Embedder,
    index: VectorIndex,
    progress: Callable[[int, int], None] | None = None,
) -> IngestSummary:
    """Chunks from consecutive documents share embedder batches; ``progress`` gets the running
    counts of documents and chunks after each batch."""
    counts = {"documents": 0, "chunks": 0}

    def batches() -> Iterator[list[Chunk]]:
        pending: list[Chunk] = []
        for document in documents:
            pending.extend(chunks_of(document))
            counts["documents"] += 1
            while len(pending) >= EMBED_BATCH:
                yield pending[:EMBED_BATCH]
                pending = pending[EMBED_BATCH:]
        if pending:
            yield pending

    for batch in batches():
        index.upsert(collection, batch, embedder.embed([c.text for c in batch]))
        counts["chunks"] += len(batch)
        if progress:
            progress(counts["documents"], counts["chunks"])
    return IngestSummary(documents=counts["documents"], chunks=counts["chunks"])


def ingest_files(paths: list[Path], collection: str, embedder: Embedder, index: VectorIndex) -> IngestSummary:
    return ingest_documents((read_document(p) for p in find_documents(paths)), collection, embedder, index)

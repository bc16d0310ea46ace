"""Minimal ingestion of .md and .txt files: chunk, embed, upsert."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ragcore.domain.chunking import chunk_text, title_of
from ragcore.domain.documents import Chunk, chunk_id_for
from ragcore.ports import Embedder, VectorIndex

SUPPORTED_SUFFIXES = (".md", ".txt")


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


def ingest_files(paths: list[Path], collection: str, embedder: Embedder, index: VectorIndex) -> IngestSummary:
    files = find_documents(paths)
    total = 0
    for path in files:
        text = path.read_text(encoding="utf-8")
        document_id = path.stem
        title = title_of(text, fallback=path.stem.replace("-", " ").replace("_", " "))
        chunks = [
            Chunk(
                chunk_id=chunk_id_for(document_id, piece.position),
                document_id=document_id,
                title=title,
                source=path.name,
                position=piece.position,
                text=piece.text,
            )
            for piece in chunk_text(text)
        ]
        if chunks:
            index.upsert(collection, chunks, embedder.embed([c.text for c in chunks]))
        total += len(chunks)
    return IngestSummary(documents=len(files), chunks=total)

"""``ragcore ingest``: files and folders into a collection, locally or through the HTTP API.

Locally, documents go straight into this process's index (the embedded Qdrant, or QDRANT_URL):
the fastest way to load a corpus, but the document registry (``GET /documents``) only learns
about documents that come through the API. Through the API, each file becomes an ingest job,
exactly as a client's upload would (``ragcore.client``); text goes inline as JSON, PDFs and
large files through a presigned upload.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from tqdm import tqdm

from ragcore.domain.documents import document_id_from_name
from ragcore.domain.jobs import JobStatus
from ragcore.services.ingest import find_files, index_files
from ragcore.services.parsing import content_type_for

if TYPE_CHECKING:
    from ragcore.client import Client, DocumentAccepted

INLINE_LIMIT = 1024 * 1024  # larger files, and every PDF, use a presigned upload


@dataclass(frozen=True)
class IngestReport:
    files: int
    outcomes: Counter[str]
    chunks: int
    seconds: float

    def line(self, collection: str) -> str:
        parts = ", ".join(f"{n} {what}" for what, n in sorted(self.outcomes.items()))
        rate = f", {self.chunks / self.seconds:.0f} chunks/s" if self.seconds and self.chunks else ""
        return (f"{self.files} files into {collection!r}: {parts or 'nothing to do'}; "
                f"{self.chunks} chunks in {self.seconds:.1f}s{rate}")


def ingest_locally(paths: list[Path], collection: str, show_progress: bool = True) -> IngestReport:
    from ragcore.bootstrap import get_container

    container = get_container()
    files = find_files(paths)
    started = time.perf_counter()
    with tqdm(total=len(files), unit="doc", disable=not show_progress, desc="ingesting") as bar:
        def progress(documents: int, chunks: int) -> None:
            bar.update(documents - bar.n)
            bar.set_postfix(chunks=chunks)

        # A process of its own (the embedded engine's folder is locked by one process at a
        # time), so the HNSW build at the end, which holds the GIL, stalls nobody.
        summary = index_files(files, collection, container.embedder, container.vector_index, progress,
                              optimize=True, limits=container.parse_limits)
    return IngestReport(len(files), Counter({"indexed": summary.documents}), summary.chunks,
                        time.perf_counter() - started)


def ingest_through_api(
    paths: list[Path], collection: str, api_url: str, show_progress: bool = True, timeout: float = 600
) -> IngestReport:
    """Raises ``ragcore.client.RagcoreError`` if the API refuses a file or cannot be reached."""
    from ragcore.client import Client, DocumentResultView, UnexpectedResponse

    files = find_files(paths)
    started = time.perf_counter()
    jobs: dict[str, str] = {}
    outcomes: Counter[str] = Counter()
    chunks = 0
    with Client(api_url) as client:
        for path in tqdm(files, unit="file", disable=not show_progress, desc="uploading"):
            jobs[_submit(client, path, collection).job_id] = path.name
        deadline = time.monotonic() + timeout
        with tqdm(total=len(jobs), unit="doc", disable=not show_progress, desc="ingesting") as bar:
            pending = dict(jobs)
            while pending and time.monotonic() < deadline:
                for job_id in list(pending):
                    status = client.status(job_id)
                    if not status.status.is_terminal:
                        continue
                    name = pending.pop(job_id)
                    bar.update(1)
                    if status.status is JobStatus.FINISHED:
                        result = client.result(job_id)
                        if not isinstance(result, DocumentResultView):  # a finished document job's
                            raise UnexpectedResponse("GET", f"/result/{job_id}", "not a document job's result")
                        outcomes[result.action] += 1
                        chunks += (result.chunks or 0) if result.action != "unchanged" else 0
                    else:
                        outcomes[status.status.value] += 1
                        tqdm.write(f"{name}: {status.status.value}: {status.error}")
                if pending:
                    time.sleep(0.3)
            outcomes.update({"timed out": len(pending)} if pending else {})
    return IngestReport(len(files), outcomes, chunks, time.perf_counter() - started)


def _submit(client: "Client", path: Path, collection: str) -> "DocumentAccepted":
    content_type = content_type_for(path.name)
    fields = {"collection": collection, "document_id": document_id_from_name(path.stem), "source": path.name}
    data = path.read_bytes()
    if content_type != "application/pdf" and len(data) <= INLINE_LIMIT:
        return client.add_document(data.decode("utf-8-sig"), content_type=content_type, **fields)
    return client.upload_document(data, path.name, **fields)

"""``ragcore ingest``: files and folders into a collection, locally or through the HTTP API.

Locally, documents go straight into this process's index (the embedded Qdrant, or QDRANT_URL):
the fastest way to load a corpus, but the document registry (``GET /documents``) only learns
about documents that come through the API. Through the API, each file becomes an ingest job,
exactly as a client's upload would; text goes inline as JSON, PDFs and large files through a
presigned upload.
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm import tqdm

from ragcore.domain.documents import document_id_from_name
from ragcore.services.ingest import find_files, index_files
from ragcore.services.parsing import content_type_for

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

        summary = index_files(files, collection, container.embedder, container.vector_index, progress)
    return IngestReport(len(files), Counter({"indexed": summary.documents}), summary.chunks,
                        time.perf_counter() - started)


def ingest_through_api(
    paths: list[Path], collection: str, api_url: str, show_progress: bool = True, timeout: float = 600
) -> IngestReport:
    files = find_files(paths)
    started = time.perf_counter()
    jobs: dict[str, str] = {}
    for path in tqdm(files, unit="file", disable=not show_progress, desc="uploading"):
        jobs[_submit(path, collection, api_url)["job_id"]] = path.name
    outcomes: Counter[str] = Counter()
    chunks = 0
    deadline = time.monotonic() + timeout
    with tqdm(total=len(jobs), unit="doc", disable=not show_progress, desc="ingesting") as bar:
        pending = dict(jobs)
        while pending and time.monotonic() < deadline:
            for job_id in list(pending):
                status = call(api_url, "GET", f"/job-status/{job_id}")
                if status["status"] in ("queued", "started"):
                    continue
                name = pending.pop(job_id)
                bar.update(1)
                if status["status"] == "finished":
                    result = call(api_url, "GET", f"/result/{job_id}")
                    outcomes[result.get("action", "done")] += 1
                    chunks += int(result.get("chunks") or 0) if result.get("action") != "unchanged" else 0
                else:
                    outcomes[status["status"]] += 1
                    tqdm.write(f"{name}: {status['status']}: {status.get('error')}")
            if pending:
                time.sleep(0.3)
        outcomes.update({"timed out": len(pending)} if pending else {})
    return IngestReport(len(files), outcomes, chunks, time.perf_counter() - started)


def _submit(path: Path, collection: str, api_url: str) -> dict[str, Any]:
    content_type = content_type_for(path.name)
    fields = {"collection": collection, "document_id": document_id_from_name(path.stem), "source": path.name}
    data = path.read_bytes()
    if content_type != "application/pdf" and len(data) <= INLINE_LIMIT:
        return call(api_url, "POST", "/documents",
                    {**fields, "text": data.decode("utf-8-sig"), "content_type": content_type})
    ticket = call(api_url, "POST", "/documents/uploads", {**fields, "filename": path.name})
    put = urllib.request.Request(ticket["url"], data=data, method="PUT", headers=ticket["headers"])
    with urllib.request.urlopen(put, timeout=60):  # noqa: S310 - the URL the API signed
        pass
    return call(api_url, "POST", f"/documents/uploads/{ticket['upload_id']}/complete")


def call(api_url: str, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    """The client's API key, if any, comes from RAGCORE_API_KEY."""
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Content-Type": "application/json"}
    if os.environ.get("RAGCORE_API_KEY"):
        headers["x-api-key"] = os.environ["RAGCORE_API_KEY"]
    request = urllib.request.Request(api_url.rstrip("/") + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - the user's API
            return json.load(response)
    except urllib.error.HTTPError as exc:  # 4xx/5xx; a 202 is a success and returns above
        raise SystemExit(f"{method} {path} -> {exc.code}: {exc.read().decode(errors='replace')}") from exc

"""Documents end to end over real HTTP: the local API Gateway and SQS poller drive the same
handlers Lambda would, with real Valkey, LocalStack SQS and S3, the embedded Qdrant engine
and the real embedder. The LLM is a counting fake, so answers are checked by their sources."""

from __future__ import annotations

import time
from typing import Any, Iterator

import httpx
import pytest

from ragcore.adapters.valkey_client import connect
from tests.support.api import local_api
from tests.support.documents import make_pdf
from tests.support.workers import Workers

LIGHTHOUSE = "# Skerry Point\n\nThe lighthouse at Skerry Point was first lit on 12 October 1874."


@pytest.fixture
def api(lambda_env: dict[str, str], sqs: Any, queue: dict[str, str]) -> Iterator[httpx.Client]:
    connect(lambda_env["VALKEY_URL"], timeout_seconds=5).flushall()  # the registry outlives a test
    # One queue for every job kind here (INGEST_QUEUE_URL unset): the worker handler is the
    # same code in both functions.
    with Workers(sqs, queue, function_id="IngestFunction"), local_api() as client:
        yield client


def settle(api: httpx.Client, accepted: httpx.Response, timeout: float = 120) -> dict[str, Any]:
    """Waits for the job behind a 202 and returns its result (or its status if it failed)."""
    assert accepted.status_code == 202, accepted.text
    job_id = accepted.json()["job_id"]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = api.get(f"/job-status/{job_id}").json()
        if status["status"] not in ("queued", "started"):
            if status["status"] != "finished":
                return status
            return api.get(f"/result/{job_id}").json()
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} did not finish")


def add_text(api: httpx.Client, text: str, **fields: Any) -> dict[str, Any]:
    return settle(api, api.post("/documents", json={"text": text, **fields}))


def sources(api: httpx.Client, query: str, collection: str = "default", top_k: int = 5) -> list[dict[str, Any]]:
    result = settle(api, api.post("/chat", json={"query": query, "collection": collection, "top_k": top_k}))
    return result["sources"]


def test_a_text_document_is_ingested_listed_and_answerable(api: httpx.Client) -> None:
    result = add_text(api, LIGHTHOUSE, document_id="skerry", source="https://example.org/skerry",
                      metadata={"lang": "en"})
    assert result["action"] == "created" and result["chunks"] == 1 and result["title"] == "Skerry Point"
    record = api.get("/documents/skerry").json()
    assert record["status"] == "ready" and record["chunks"] == 1 and record["metadata"] == {"lang": "en"}
    listing = api.get("/documents").json()
    assert [d["document_id"] for d in listing["documents"]] == ["skerry"] and listing["total"] == 1
    found = sources(api, "When was Skerry Point lighthouse first lit?")
    assert found[0]["document_id"] == "skerry" and "12 October 1874" in found[0]["snippet"]
    assert found[0]["source"] == "https://example.org/skerry"


@pytest.mark.parametrize(
    ("filename", "content_type", "payload", "phrase"),
    [
        ("notes.txt", "text/plain", b"Anemones close their tentacles at low tide.", "anemones"),
        ("guide.md", "text/markdown", b"# Bees\n\n## Dance\n\nThe waggle dance points to nectar.", "waggle dance"),
        ("page.html", "text/html", b"<title>Bread</title><h1>Starter</h1><p>Feed the starter rye flour.</p>",
         "rye flour starter"),
        ("log.pdf", "application/pdf", None, "keeper fog horn"),
    ],
)
def test_each_file_type_uploads_and_is_searchable(
    api: httpx.Client, filename: str, content_type: str, payload: bytes | None, phrase: str
) -> None:
    data = payload or make_pdf("Keeper's log", ["The keeper sounded the fog horn at midnight."])
    result = settle(api, api.post("/documents", files={"file": (filename, data, content_type)},
                                  data={"collection": "files", "metadata": '{"kind": "test"}'}))
    assert result["action"] == "created", result
    document_id = result["document_id"]
    record = api.get(f"/documents/{document_id}", params={"collection": "files"}).json()
    assert record["filename"] == filename and record["content_type"] == content_type
    assert sources(api, phrase, collection="files")[0]["document_id"] == document_id


def test_a_large_file_goes_through_a_presigned_upload(api: httpx.Client) -> None:
    ticket = api.post("/documents/uploads", json={"filename": "big.pdf", "document_id": "big-log"})
    assert ticket.status_code == 201, ticket.text
    body = ticket.json()
    assert body["document_id"] == "big-log" and body["fields"]["Content-Type"] == "application/pdf"
    early = api.post(body["complete"])
    assert early.status_code == 409 and early.json()["error"]["code"] == "upload_incomplete"
    pdf = make_pdf("Big log", ["The lantern room was painted red in 1901."] * 40)
    sent = httpx.post(body["url"], data=body["fields"], files={"file": ("big.pdf", pdf)}, timeout=30)  # to S3
    assert sent.status_code == 204, sent.text
    result = settle(api, api.post(body["complete"]))
    assert result["action"] == "created" and result["document_id"] == "big-log"
    assert api.get("/documents/big-log").json()["size_bytes"] == len(pdf)
    assert sources(api, "When was the lantern room painted red?")[0]["document_id"] == "big-log"


def test_reingesting_replaces_chunks_and_identical_content_is_skipped(api: httpx.Client) -> None:
    add_text(api, LIGHTHOUSE, document_id="skerry")
    unchanged = add_text(api, LIGHTHOUSE, document_id="skerry")
    assert unchanged["action"] == "unchanged" and unchanged["chunks"] == 1
    replaced = add_text(api, "# Skerry Point\n\nThe lighthouse was automated in 1987.", document_id="skerry")
    assert replaced["action"] == "replaced"
    found = [s for s in sources(api, "Skerry Point lighthouse lit automated", top_k=10) if s["document_id"] == "skerry"]
    assert len(found) == 1 and "automated in 1987" in found[0]["snippet"]  # no old chunk left


def test_delete_removes_the_document_and_its_chunks(api: httpx.Client) -> None:
    add_text(api, LIGHTHOUSE, document_id="skerry")
    add_text(api, "Honeybees dance to show where nectar is.", document_id="bees")
    deleted = settle(api, api.delete("/documents/skerry"))
    assert deleted["action"] == "deleted"
    assert api.get("/documents/skerry").status_code == 404
    assert "skerry" not in {s["document_id"] for s in sources(api, "Skerry Point lighthouse", top_k=10)}
    missing = api.delete("/documents/skerry")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "document_not_found"


def test_collections_keep_tenants_apart(api: httpx.Client) -> None:
    add_text(api, LIGHTHOUSE, document_id="skerry", collection="tenant-a")
    add_text(api, "Sourdough starter wants flour daily.", document_id="bread", collection="tenant-b")
    assert {s["document_id"] for s in sources(api, "Skerry Point lighthouse", collection="tenant-b")} == {"bread"}
    assert api.get("/documents/skerry", params={"collection": "tenant-b"}).status_code == 404
    assert [d["document_id"] for d in api.get("/documents", params={"collection": "tenant-a"}).json()["documents"]] == ["skerry"]


@pytest.mark.parametrize(
    ("request_kwargs", "status", "code"),
    [
        ({"files": {"file": ("report.docx", b"PK..", "application/octet-stream")}}, 415, "unsupported_document_type"),
        ({"json": {"text": ""}}, 422, "invalid_request"),
        ({"json": {"text": "x", "document_id": "../etc/passwd"}}, 422, "invalid_request"),
        ({"json": {"text": "x", "collection": "no spaces"}}, 422, "invalid_request"),
        ({"json": {"text": "x", "colour": "red"}}, 422, "invalid_request"),
        ({"files": {"file": ("a.txt", b"hi", "text/plain")}, "data": {"metadata": "{not json"}}, 422, "invalid_request"),
        ({"content": b"plain words", "headers": {"Content-Type": "text/plain"}}, 415, "unsupported_media_type"),
        ({"content": b"{bad json", "headers": {"Content-Type": "application/json"}}, 400, "invalid_json"),
    ],
)
def test_bad_documents_get_a_clear_4xx_and_queue_nothing(
    api: httpx.Client, request_kwargs: dict[str, Any], status: int, code: str
) -> None:
    response = api.post("/documents", **request_kwargs)
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code
    assert api.get("/documents").json()["total"] == 0


def test_an_oversized_body_is_413_pointing_at_presigned_uploads(
    api: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ragcore.bootstrap import get_container

    monkeypatch.setattr(get_container().settings, "max_inline_document_bytes", 2048)
    response = api.post("/documents", json={"text": "word " * 1000})
    assert response.status_code == 413 and "/documents/uploads" in response.json()["error"]["message"]


def test_a_file_that_cannot_be_parsed_fails_its_job_and_marks_the_document(api: httpx.Client) -> None:
    status = settle(api, api.post("/documents", files={"file": ("broken.pdf", b"%PDF-1.4 junk", "application/pdf")},
                                  data={"document_id": "broken"}))
    assert status["status"] == "failed" and "PDF" in status["error"]
    record = api.get("/documents/broken").json()
    assert record["status"] == "failed" and "PDF" in record["error"]

"""Issue 15: a document past a parsing bound fails its job with a readable 413 reason and
leaves its registry entry ``failed``, through the real API, LocalStack, Valkey and worker."""

from __future__ import annotations

import httpx
import pytest

from tests.integration.test_documents import api, settle  # noqa: F401 (the fixture)
from tests.support.documents import make_shared_stream_pdf
from tests.support.settings import Configure


def test_a_pdf_with_too_many_pages_fails_its_job_and_marks_the_document(
    api: httpx.Client, configure: Configure  # noqa: F811
) -> None:
    configure(max_document_pages=4)
    pdf = make_shared_stream_pdf(250_000, pages=8)  # 2.3 kB; before: 3.4 s and 1.25 M characters
    status = settle(api, api.post("/documents", files={"file": ("eight.pdf", pdf, "application/pdf")},
                                  data={"document_id": "eight"}))
    reason = "too_large (413): the PDF has 8 pages; the limit is 4 (MAX_DOCUMENT_PAGES)"
    assert status["status"] == "failed" and status["error"] == reason
    record = api.get("/documents/eight").json()
    assert record["status"] == "failed" and record["error"] == reason

"""The API's answer to each error of the core that a document or key request can meet: its
status, code and message, which are the HTTP contract."""

from __future__ import annotations

import json

import pytest

from ragcore.domain.errors import (
    CollectionLimitError,
    DocumentLimitError,
    DocumentTooLargeError,
    RagError,
    RateLimitedError,
    UnauthorizedError,
    UploadCompletedError,
    UploadIncompleteError,
    UploadNotFoundError,
)
from rag_api.errors import core_error_response


def _answer(exc: RagError) -> tuple[int, dict]:
    response = core_error_response(exc)
    return response.status_code, json.loads(response.body)["error"]


def test_a_file_past_the_upload_limit_is_413_with_its_reason_alone() -> None:
    # One error for every "too large"; the "too_large (413): " prefix is only for a job's error.
    reason = "the file is 11 bytes; the limit is 10"
    assert str(DocumentTooLargeError(reason)) == f"too_large (413): {reason}"
    assert _answer(DocumentTooLargeError(reason)) == (413, {"code": "too_large", "message": reason})


@pytest.mark.parametrize(("error", "status", "code"), [
    (UploadIncompleteError("not yet"), 409, "upload_incomplete"),
    (UploadNotFoundError("no upload"), 404, "upload_not_found"),
    (UploadCompletedError("twice"), 409, "upload_already_completed"),
    (CollectionLimitError("full"), 409, "too_many_collections"),
    (DocumentLimitError("full"), 409, "too_many_documents"),
    (UnauthorizedError("no key"), 401, "unauthorized"),
    (RateLimitedError("rate", 1.5), 429, "rate_limited"),
    (RateLimitedError("quota", 60), 429, "quota_exceeded"),
])
def test_each_core_error_has_its_status_and_code(error: RagError, status: int, code: str) -> None:
    assert _answer(error) == (status, {"code": code, "message": str(error)})

"""Maps core errors and request mistakes to JSON responses; the only place that knows both.

Every error body has the same shape: ``{"error": {"code", "message", "details"?}}``.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ragcore.domain.errors import (
    DependencyUnavailableError,
    DocumentNotFoundError,
    InvalidDocumentError,
    JobNotFoundError,
    RagError,
    UnsupportedDocumentTypeError,
)
from ragcore.services.documents import TooLargeError, UploadCompletedError, UploadIncompleteError

log = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = "5"


def error_response(http_status: int, code: str, message: str, **extra: Any) -> JSONResponse:
    body: dict[str, Any] = {"error": {"code": code, "message": message, **extra}}
    headers = {"Retry-After": RETRY_AFTER_SECONDS} if http_status == 503 else None
    return JSONResponse(body, status_code=http_status, headers=headers)


def install(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def _invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        details = [
            {"field": ".".join(str(p) for p in e["loc"] if p != "body") or "body", "problem": e["msg"]}
            for e in exc.errors()
        ]
        if any(e["type"] == "json_invalid" for e in exc.errors()):
            return error_response(400, "invalid_json", "the request body is not valid JSON", details=details)
        return error_response(422, "invalid_request", "the request is not valid", details=details)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        codes = {404: "not_found", 405: "method_not_allowed", 413: "too_large", 415: "unsupported_media_type"}
        return error_response(exc.status_code, codes.get(exc.status_code, "http_error"), str(exc.detail))

    @app.exception_handler(JobNotFoundError)
    async def _job_not_found(_: Request, exc: JobNotFoundError) -> JSONResponse:
        return error_response(404, "job_not_found", str(exc))

    @app.exception_handler(DocumentNotFoundError)
    async def _document_not_found(_: Request, exc: DocumentNotFoundError) -> JSONResponse:
        return error_response(404, "document_not_found", str(exc))

    @app.exception_handler(InvalidDocumentError)
    async def _invalid_document(_: Request, exc: InvalidDocumentError) -> JSONResponse:
        status, code = {
            UnsupportedDocumentTypeError: (415, "unsupported_document_type"),
            TooLargeError: (413, "too_large"),
            UploadIncompleteError: (409, "upload_incomplete"),
            UploadCompletedError: (409, "upload_already_completed"),
        }.get(type(exc), (422, "invalid_document"))
        return error_response(status, code, str(exc))

    @app.exception_handler(DependencyUnavailableError)
    async def _unavailable(_: Request, exc: DependencyUnavailableError) -> JSONResponse:
        return error_response(
            503, "dependency_unavailable", f"{exc.dependency} is unavailable; try again shortly"
        )

    @app.exception_handler(RagError)
    async def _core_error(_: Request, exc: RagError) -> JSONResponse:
        return error_response(400, "bad_request", str(exc))

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        # Details go to the log, never to the client.
        log.error("unhandled error", exc_info=exc)
        return error_response(500, "internal_error", "unexpected server error; it has been logged")

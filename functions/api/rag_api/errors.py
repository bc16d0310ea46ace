"""Maps core errors and request mistakes to JSON responses; the only place that knows both.

Every error body has the same shape: ``{"error": {"code", "message", "details"?}}``.
"""

from __future__ import annotations

import logging
import math
from typing import Any, Mapping, Sequence

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from ragcore.api_schema import ErrorBody, ErrorInfo
from ragcore.domain.errors import (
    CollectionLimitError,
    ConversationFullError,
    ConversationNotFoundError,
    DependencyUnavailableError,
    DocumentLimitError,
    DocumentNotFoundError,
    DocumentTooLargeError,
    InvalidDocumentError,
    JobNotFoundError,
    RagError,
    RateLimitedError,
    UnauthorizedError,
    UnsupportedDocumentTypeError,
    UploadCompletedError,
    UploadIncompleteError,
    UploadNotFoundError,
    WebhookNotQueuedError,
)

from .headers import SECURITY_HEADERS

log = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = "5"

RETRY_AFTER_HEADER = {"Retry-After": {"description": "seconds to wait before trying again",
                                      "schema": {"type": "integer"}}}

# What each error status means, said once; every route declares only the statuses it can
# give (``responses``), so the OpenAPI document lists no error a route never returns.
ERROR_DESCRIPTIONS: dict[int, str] = {
    400: "The body is not valid JSON (or not UTF-8)",
    401: "No API key, or one that is unknown or revoked",
    404: "No such job, document, upload or conversation (another tenant's is not found either)",
    409: "The request conflicts with the state of the job or upload, or would pass the tenant's cap on "
         "collections or documents; `message` says how",
    413: "The body (or the uploaded file) is too large",
    415: "The body is not of a type the route reads",
    422: "A field or parameter is not valid; `details` says which and why",
    429: "The key's rate limit or daily quota is used up; retry after `Retry-After` seconds",
    503: "A dependency is unavailable; retry after `Retry-After` seconds",
}
# Always sent with these statuses (``error_response``, the key check's 429).
_WITH_RETRY_AFTER = {429, 503}

# Every route behind the key check can be refused by it (401, 429) or find Valkey down (503).
KEYED = (401, 429, 503)
# Every route that reads a JSON body: not JSON (400), too large (413), not declared JSON
# (415), fields not valid (422).
JSON_BODY = (400, 413, 415, 422)


def responses(*statuses: int, **described: str) -> dict[int | str, dict[str, Any]]:
    """The error answers of one route, for its ``responses=``: the shared description of each
    status, or the route's own (``described``, keyed ``s409`` for 409), and ``Retry-After``
    where it is always sent."""
    declared: dict[int | str, dict[str, Any]] = {}
    for status in sorted(set(statuses)):
        entry: dict[str, Any] = {
            "model": ErrorBody, "description": described.get(f"s{status}", ERROR_DESCRIPTIONS[status])}
        if status in _WITH_RETRY_AFTER:
            entry["headers"] = {name: {**spec, "required": True} for name, spec in RETRY_AFTER_HEADER.items()}
        declared[status] = entry
    return declared

_METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")
_HTTP_CODES = {
    400: "bad_request", 404: "not_found", 405: "method_not_allowed", 413: "too_large",
    415: "unsupported_media_type",
}


def error_response(
    http_status: int, code: str, message: str, headers: Mapping[str, str] | None = None, **extra: Any
) -> JSONResponse:
    body = ErrorBody(error=ErrorInfo(code=code, message=message, **extra))
    sent = dict(headers or {})
    if http_status == 503:
        sent["Retry-After"] = RETRY_AFTER_SECONDS
    return JSONResponse(body.model_dump(exclude_none=True), status_code=http_status, headers=sent)


def _allowed_methods(request: Request) -> str:
    """Every method some route serves at this path, found by asking each route (the routes
    of included routers sit behind one entry each). Starlette's own ``Allow`` names only the
    first route that matched the path: GET /documents/{id}, not its DELETE twin."""
    def served(method: str) -> bool:
        probe = {**request.scope, "method": method}
        return any(route.matches(probe)[0] is Match.FULL for route in request.app.routes)

    return ", ".join(method for method in _METHODS if served(method))


def core_error_response(exc: RagError) -> JSONResponse:
    """The answer to an error of the core, wherever it is raised: in a route, or in the key
    check that runs before any route (``auth.RequireKey``)."""
    match exc:
        case JobNotFoundError():
            return error_response(404, "job_not_found", str(exc))
        case ConversationNotFoundError():
            return error_response(404, "conversation_not_found", str(exc))
        case ConversationFullError():
            return error_response(409, "conversation_full", str(exc))
        case DocumentNotFoundError():
            return error_response(404, "document_not_found", str(exc))
        case DocumentTooLargeError():  # the reason alone: "too_large (413)" is for a job's error
            return error_response(413, "too_large", exc.reason)
        case InvalidDocumentError():
            status, code = {
                UnsupportedDocumentTypeError: (415, "unsupported_document_type"),
                UploadIncompleteError: (409, "upload_incomplete"),
                UploadNotFoundError: (404, "upload_not_found"),
                UploadCompletedError: (409, "upload_already_completed"),
                CollectionLimitError: (409, "too_many_collections"),
                DocumentLimitError: (409, "too_many_documents"),
            }.get(type(exc), (422, "invalid_document"))
            return error_response(status, code, str(exc))
        case UnauthorizedError():
            return error_response(401, "unauthorized", str(exc), headers={"WWW-Authenticate": "Bearer"})
        case RateLimitedError():
            code = "quota_exceeded" if exc.reason == "quota" else "rate_limited"
            return error_response(429, code, str(exc), headers={"Retry-After": str(math.ceil(exc.retry_after))})
        case WebhookNotQueuedError():  # the change is made; only its webhook is missing
            return error_response(503, "dependency_unavailable", f"{exc}; try again shortly")
        case DependencyUnavailableError():
            return error_response(
                503, "dependency_unavailable", f"{exc.dependency} is unavailable; try again shortly"
            )
        case _:
            return error_response(400, "bad_request", str(exc))


def validation_details(errors: Sequence[Mapping[str, Any]], within: str = "") -> list[dict[str, str]]:
    """Validation errors as ``details``: each field by its dotted path (``within`` first, and
    without FastAPI's ``body``), with its problem."""
    def field(loc: Sequence[Any]) -> str:
        return ".".join([*([within] if within else []), *(str(p) for p in loc if p != "body")]) or "body"

    return [{"field": field(e["loc"]), "problem": e["msg"]} for e in errors]


def install(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def _invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        details = validation_details(exc.errors())
        if any(e["type"] == "json_invalid" for e in exc.errors()):
            return error_response(400, "invalid_json", "the request body is not valid JSON", details=details)
        return error_response(422, "invalid_request", "the request is not valid", details=details)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400 and isinstance(exc.__cause__, UnicodeDecodeError):
            # FastAPI's wrapping of a JSON body that is not UTF-8, which JSON must be (RFC 8259).
            return error_response(400, "invalid_json", "the request body is not valid JSON: it is not UTF-8")
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = _allowed_methods(request)
        code = _HTTP_CODES.get(exc.status_code, "http_error")
        return error_response(exc.status_code, code, str(exc.detail), headers=headers)

    @app.exception_handler(RagError)
    async def _core_error(_: Request, exc: RagError) -> JSONResponse:
        return core_error_response(exc)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        # Details go to the log, never to the client.
        log.error("unhandled error", exc_info=exc)
        # Runs outside the app's middleware (Starlette's error layer), so it adds the
        # security headers itself.
        return error_response(
            500, "internal_error", "unexpected server error; it has been logged", headers=SECURITY_HEADERS
        )

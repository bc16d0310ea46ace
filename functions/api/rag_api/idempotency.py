"""``Idempotency-Key`` on the routes that make jobs, so a client can send a request again
after a timeout or a dropped answer without making a second job (semantics of the IETF httpapi
draft "The Idempotency-Key HTTP Header Field"; docs/RELIABILITY.md, "Idempotency keys").

A key is the caller's tenant's, for one method and path. The first request with it reserves it
(``ports.IdempotencyStore``, one atomic step) and runs; a 2xx answer is saved for
``IDEMPOTENCY_TTL_SECONDS`` and any other answer frees the key, so a corrected request can go
through. A request with a saved key gets the saved answer again (``Idempotent-Replayed: true``)
if it is the same request (method, path, query, content type and body: its fingerprint), and
``422 idempotency_key_reused`` if not. One that finds the first still running waits for its
answer up to ``WAIT_SECONDS``, then gets ``409 idempotency_key_in_flight`` with Retry-After.
Without the header nothing changes.

An ASGI middleware rather than a dependency: it must see the raw body before a route parses it
and the answer as sent, and covers every route the same way. It runs after the key check (it
needs the tenant) and the body cap (it reads the body)."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from typing import Any, Sequence

from fastapi import FastAPI
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ragcore.bootstrap import get_container
from ragcore.domain.errors import RagError
from ragcore.ports import IdempotencyStore, KeyUse, SavedResponse

from .auth import caller, owner_of
from .errors import core_error_response, error_response

log = logging.getLogger(__name__)

HEADER = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"  # the draft names none; Stripe's name for the same thing
# The routes that make a job (or an upload ticket) each time they get through.
COVERED = frozenset({
    ("POST", "/chat"), ("POST", "/chat/batch"), ("POST", "/documents"), ("POST", "/documents/uploads"),
    ("POST", "/documents/uploads/{upload_id}/complete"),
})
MAX_KEY_LENGTH = 255
# How long a request waits for the first one with its key before answering 409: the first
# takes tens of milliseconds, so in the normal case every concurrent request gets its answer.
WAIT_SECONDS = 2.0
_FIRST_POLL, _MAX_POLL = 0.02, 0.2
IN_FLIGHT_RETRY_AFTER = "1"
# An answer larger than this is not saved (the key is freed, so a resend runs again). The
# largest answer of a covered route, a batch of 100 questions, is about 25 kB.
MAX_SAVED_BODY_BYTES = 256 * 1024
# The headers of an answer that are part of it; the security and CORS headers are added again
# by the outer middleware on the replay, and the length is the body's.
_SAVED_HEADERS = frozenset({"content-type", "location", "retry-after"})

_KEY_RULE = f"1-{MAX_KEY_LENGTH} printable ASCII characters (a UUID, say), sent once, optionally as a quoted string"
_DOC = {
    "parameter": f"Makes a resend of this request safe: the same key with the same request within the key's "
                 f"lifetime (24 h by default) gets the first answer again (same job), marked `{REPLAYED}: true`, "
                 f"and makes no second job. {_KEY_RULE}; scoped to the caller's tenant, method and path. A key "
                 f"whose first request did not succeed (not 2xx) can be used again.",
    400: f"`invalid_idempotency_key`: the {HEADER} header is not {_KEY_RULE}",
    409: f"`idempotency_key_in_flight`: a request with the same {HEADER} is still in progress; "
         f"send it again after `Retry-After` seconds",
    422: f"`idempotency_key_reused`: the {HEADER} was used for a different request (another body) "
         f"within its lifetime; use a new key for a new request",
}


class InvalidKey(ValueError):
    pass


def parse_key(values: Sequence[str]) -> str:
    """The key of the request's ``Idempotency-Key`` fields: a Structured Fields string as the
    draft defines it (``"8e03978e-..."``), or the same characters unquoted, as most clients
    send it. Unquoted, a comma is refused: proxies join repeated fields with ", " (API
    Gateway's event, as Mangum reads it, does), and the draft allows one field only."""
    if len(values) != 1:
        raise InvalidKey(f"send one {HEADER} header, not {len(values)}")
    raw = values[0].strip()
    if not raw.startswith('"') and "," in raw:
        raise InvalidKey(f"send one {HEADER} header (quote a key that holds a comma)")
    key = _sf_string(raw) if raw.startswith('"') else raw
    if not 1 <= len(key) <= MAX_KEY_LENGTH or any(not " " <= c <= "~" for c in key):
        raise InvalidKey(f"the {HEADER} must be {_KEY_RULE}")
    return key


def _sf_string(raw: str) -> str:
    """RFC 8941 sf-string: quoted, with only ``\\"`` and ``\\\\`` escaped."""
    if len(raw) < 2 or not raw.endswith('"'):
        raise InvalidKey(f"the {HEADER} string has no closing quote")
    out, chars = [], iter(raw[1:-1])
    for c in chars:
        if c == "\\":
            c = next(chars, "")
            if c not in ('"', "\\"):
                raise InvalidKey(f"the {HEADER} string has an invalid escape")
        elif c == '"':
            raise InvalidKey(f"the {HEADER} string has an unescaped quote")
        out.append(c)
    return "".join(out)


def fingerprint(method: str, path: str, query: str, content_type: str, body: bytes) -> str:
    """What makes two requests "the same": method, path, query, content type and body. A form's
    multipart boundary is left out, since a client picks a new one for each send of the same
    form (curl and httpx do)."""
    boundary = _boundary(content_type)
    if boundary:
        body = body.replace(b"--" + boundary.encode("latin-1"), b"--")
        content_type = ";".join(p for p in content_type.split(";") if not p.strip().lower().startswith("boundary="))
    digest = hashlib.sha256()
    for part in (method, path, query, content_type.strip().lower()):
        digest.update(part.encode("utf-8", "surrogatepass") + b"\0")  # a path may hold any character
    digest.update(body)
    return digest.hexdigest()


def _boundary(content_type: str) -> str | None:
    for param in content_type.split(";")[1:]:
        name, _, value = param.strip().partition("=")
        if name.lower() == "boundary" and value:
            return value.strip('"')
    return None


def record_key(tenant: str | None, method: str, path: str, key: str) -> str:
    """One record per tenant, method, path and key, named by a hash: any key a client sends
    becomes a short Valkey key name, and two tenants' equal keys never meet."""
    return hashlib.sha256("\0".join((tenant or "", method, path, key)).encode("utf-8", "surrogatepass")).hexdigest()


class Idempotency:
    """The middleware (``install`` adds it), for the routes in ``COVERED``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.routes = [(method, compile_path(path)[0]) for method, path in COVERED]

    def _covers(self, scope: Scope) -> bool:
        return any(method == scope["method"] and pattern.match(scope["path"]) for method, pattern in self.routes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        values = Headers(scope=scope).getlist(HEADER) if scope["type"] == "http" else []
        if not values or not self._covers(scope):
            await self.app(scope, receive, send)
            return
        try:
            key = parse_key(values)
            body = await _read_body(receive)
        except InvalidKey as exc:
            await error_response(400, "invalid_idempotency_key", str(exc))(scope, receive, send)
            return
        except HTTPException as exc:  # the body cap's 413, raised as the body is read
            await error_response(exc.status_code, "too_large", str(exc.detail))(scope, receive, send)
            return
        except ClientDisconnect:
            return  # gone before the body arrived: nothing ran, nobody to answer
        await _Attempt(scope, key, body).run(self.app, receive, send)


class _Attempt:
    """One request with a key: reserve, then run and save, replay, or refuse."""

    def __init__(self, scope: Scope, key: str, body: bytes) -> None:
        container = get_container()
        self.store: IdempotencyStore = container.idempotency_store
        self.ttl = container.settings.idempotency_ttl_seconds
        self.hold = container.settings.idempotency_hold_seconds
        self.scope, self.body = scope, body
        headers = Headers(scope=scope)
        self.fingerprint = fingerprint(scope["method"], scope["path"], scope.get("query_string", b"").decode("latin-1"),
                                       headers.get("content-type", ""), body)
        self.key = key

    async def run(self, app: ASGIApp, receive: Receive, send: Send) -> None:
        scope = self.scope
        try:
            tenant = owner_of(await caller(Request(scope)))
            self.record = record_key(tenant, scope["method"], scope["path"], self.key)
            use = await self._reserve()
        except RagError as exc:  # Valkey unavailable: 503, and nothing ran
            await core_error_response(exc)(scope, receive, send)
            return
        if use.fingerprint != self.fingerprint:
            answer = error_response(422, "idempotency_key_reused", f"this {HEADER} was used for a different "
                                    "request; use a new key for a new request")
        elif use.response is not None:
            answer = _replay(use.response)
        elif not use.reserved:
            answer = error_response(409, "idempotency_key_in_flight", f"a request with this {HEADER} is still "
                                    "in progress; send it again shortly",
                                    headers={"Retry-After": IN_FLIGHT_RETRY_AFTER})
        else:
            await self._first(app, use, receive, send)
            return
        await answer(scope, receive, send)

    async def _reserve(self) -> KeyUse:
        """Reserves the key, or waits (up to ``WAIT_SECONDS``) while the same request holds it."""
        deadline, pause = time.monotonic() + WAIT_SECONDS, _FIRST_POLL
        while True:
            use = self.store.reserve(self.record, self.fingerprint, self.hold)
            if use.reserved or use.response is not None or use.fingerprint != self.fingerprint:
                return use
            if time.monotonic() + pause > deadline:
                return use  # still in progress
            await asyncio.sleep(pause)
            pause = min(pause * 2, _MAX_POLL)

    async def _first(self, app: ASGIApp, use: KeyUse, receive: Receive, send: Send) -> None:
        """Runs the request with its body handed on, keeps its answer until it is saved (or the
        key freed), then sends it: a client that has the answer can count on its replay."""
        given = False

        async def replayed() -> Message:
            nonlocal given
            if not given:
                given = True
                return {"type": "http.request", "body": self.body, "more_body": False}
            return await receive()

        start: Message | None = None
        chunks: list[bytes] = []

        async def kept(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        try:
            await app(self.scope, replayed, kept)
        except BaseException:
            self._release(use)
            raise
        body = b"".join(chunks)
        if start is None:
            self._release(use)
            return
        if 200 <= start["status"] < 300 and len(body) <= MAX_SAVED_BODY_BYTES:
            self._save(use, start, body)
        else:
            self._release(use)
        await send(start)
        await send({"type": "http.response.body", "body": body, "more_body": False})

    def _save(self, use: KeyUse, start: Message, body: bytes) -> None:
        headers = tuple((name.decode("latin-1"), value.decode("latin-1")) for name, value in start["headers"]
                        if name.decode("latin-1").lower() in _SAVED_HEADERS)
        try:
            if not self.store.save(self.record, use, SavedResponse(start["status"], headers, body), self.ttl):
                log.warning("idempotency reservation expired before the answer was saved",
                            extra={"hold_seconds": self.hold})
        except RagError as exc:
            # The job is made and the client gets its answer; a resend after the hold runs
            # again (docs/RELIABILITY.md, "Idempotency keys": the worst case).
            log.warning("idempotency answer not saved: %s", exc)

    def _release(self, use: KeyUse) -> None:
        try:
            self.store.release(self.record, use)
        except RagError as exc:  # the reservation expires after its hold anyway
            log.warning("idempotency key not released: %s", exc)


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect()
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replay(saved: SavedResponse) -> Response:
    return Response(saved.body, status_code=saved.status, headers={**dict(saved.headers), REPLAYED: "true"})


def install(app: FastAPI) -> None:
    """Covers the app's routes in ``COVERED`` (added before ``BodyLimit`` and ``RequireKey``,
    so it runs after both) and declares the header and its answers in their OpenAPI entries."""
    app.add_middleware(Idempotency)
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            _document(build())  # build() keeps the document in app.openapi_schema
        return app.openapi_schema  # type: ignore[return-value]

    app.openapi = openapi  # type: ignore[method-assign]


def _document(schema: dict[str, Any]) -> None:
    operations = [schema["paths"].get(path, {}).get(method.lower()) for method, path in COVERED]
    for operation in filter(None, operations):  # a route of COVERED this app lacks is skipped
        operation.setdefault("parameters", []).append({
            "name": HEADER, "in": "header", "required": False, "description": _DOC["parameter"],
            "schema": {"type": "string", "pattern": _KEY_PATTERN}})
        answers = operation["responses"]
        for status in [s for s in answers if s.startswith("2")]:
            answers[status].setdefault("headers", {})[REPLAYED] = {
                "description": f"`true` when this is the saved answer to an earlier request with the same {HEADER}",
                "schema": {"type": "string", "enum": ["true"]}}
        for status in (400, 409, 422):
            answer = answers.setdefault(str(status), {"description": "", "content": _ERROR_BODY})
            answer["description"] = "; or ".join(filter(None, (answer["description"], _DOC[status])))
        answers["409"].setdefault("headers", {})["Retry-After"] = {
            "description": "with `idempotency_key_in_flight`: seconds to wait before sending it again",
            "schema": {"type": "integer"}}


# The key as most clients send it, unquoted: printable ASCII with no comma, not starting with
# a space or a quote (the quoted form is accepted too; ``parse_key``).
_KEY_PATTERN = rf"^[!#-+\x2D-~][ -+\x2D-~]{{0,{MAX_KEY_LENGTH - 1}}}$"
_ERROR_BODY = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}

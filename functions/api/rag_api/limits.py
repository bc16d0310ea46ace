"""A cap on the request body, checked before any route parses it.

Starlette's own ``RequestBodyLimitMiddleware`` answers in plain text; the API's errors are
JSON, so this one raises into the app's error handlers instead (and answers a too-large
``Content-Length`` at once, without reading the body).
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import error_response

# Lambda takes at most 6 MB in a synchronous invocation, so no larger body is a real request.
# Files above the inline limit (4 MiB by default) go through POST /documents/uploads.
MAX_BODY_BYTES = 6 * 1024 * 1024


def _too_large_message(limit: int) -> str:
    return f"the body is larger than {limit} bytes; send large files with POST /documents/uploads"


class BodyLimit:
    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            response = error_response(413, "too_large", _too_large_message(self.max_bytes))
            await response(scope, receive, send)
            return
        received = 0

        async def counted() -> Message:
            # No (or a false) Content-Length: count what actually arrives.
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise HTTPException(413, _too_large_message(self.max_bytes))
            return message

        await self.app(scope, counted, send)

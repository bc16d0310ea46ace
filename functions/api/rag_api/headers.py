"""Security headers every answer of the function carries, and the pages' own content policies.

The JSON API's content security policy allows nothing to load or frame it; responses hold
per-caller data, so nothing may be cached on the way. The two pages the function serves (the
web UI at ``/ui`` and the API reference at ``/docs``, ``ui_routes``) set their own, narrowest
policy: their own scripts, styles and requests, nothing inline and nothing from elsewhere (but
the icons Swagger UI inlines as ``data:`` images); their files also set their own caching. The
middleware only adds the headers a response has not set itself; the handler of unexpected
errors runs outside it and adds them itself (``errors``). The browser origins allowed to call
the API are CORS's, set in ``app`` from ``CORS_ALLOW_ORIGINS``.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

SECURITY_HEADERS = {
    "Strict-Transport-Security": "max-age=63072000; includeSubDomains",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "Cache-Control": "no-store",
}

_PAGE = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; " \
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
# The web UI: its own script, stylesheet, API calls and images (it has none yet), same origin.
UI_CSP = f"{_PAGE}; img-src 'self'"
# Swagger UI: the same, plus the icons its stylesheet inlines as data: URLs.
DOCS_CSP = f"{_PAGE}; img-src 'self' data:"


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, with_headers)

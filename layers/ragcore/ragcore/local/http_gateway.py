"""A local stand-in for API Gateway: real HTTP in, a REST proxy event to the API handler,
its response back out. Uses the standard library's threading server; no framework is
needed for a pass-through."""

from __future__ import annotations

import http.client
import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, Callable
from urllib.parse import urlsplit

from ragcore.local.apigateway import (
    MISSING_ROUTE,
    Route,
    find_route,
    from_response,
    gateway_error,
    to_event,
)
from ragcore.local.template import Template

if TYPE_CHECKING:
    from ragcore.local.web_adapter import WebAdapter

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 10 * 1024 * 1024  # API Gateway REST payload limit
_CHUNK_BYTES = 64 * 1024
# Headers of one connection, not of the answer: the gateway sets its own.
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length"}

# A runner's own endpoint: () -> (status, headers, body).
LocalEndpoint = Callable[[], tuple[int, list[tuple[str, str]], bytes]]


def routes_of(template: Template) -> list[Route]:
    """Every route of the template's REST API, those whose integration streams marked."""
    streaming = template.streaming.routes if template.streaming else []
    return [Route(m, p) for m, p in template.api_routes] + [Route(m, p, streaming=True) for m, p in streaming]


class _Server(ThreadingHTTPServer):
    # socketserver listens with a backlog of 5: a burst of clients connecting at once then
    # gets connections reset, which API Gateway never does. A thread per request, as before.
    request_queue_size = 128
    daemon_threads = True


class HttpGateway:
    def __init__(
        self,
        host: str,
        port: int,
        routes: list[Route],
        stage: str,
        invoke: Callable[[dict[str, Any]], dict[str, Any]],
        local_endpoints: dict[str, LocalEndpoint] | None = None,
        web_adapter: WebAdapter | None = None,
    ) -> None:
        """``local_endpoints``: GET paths the runner answers itself, never the API function
        (``/metrics``); API Gateway has no such routes. ``web_adapter``: where the streaming
        routes' events go (``Route.streaming``)."""
        if web_adapter is None and any(route.streaming for route in routes):
            raise ValueError("streaming routes need the web adapter that serves them")
        gateway = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in two writes: with Nagle's algorithm the body waits for
            # the client's delayed ACK of the headers, 40 ms on every keep-alive response.
            disable_nagle_algorithm = True

            def _serve(self) -> None:
                gateway._handle(self)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_HEAD = _serve

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass  # the handlers log each request themselves

        self._routes = routes
        self._stage = stage
        self._invoke = invoke
        self._local_endpoints = local_endpoints or {}
        self._web_adapter = web_adapter
        self._server = _Server((host, port), _Handler)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> None:
        self._thread = threading.Thread(target=self._server.serve_forever, name="http", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        if request.headers.get("Transfer-Encoding"):
            request.close_connection = True
            self._json(request, 411, gateway_error("DEFAULT_4XX", "Length Required"))
            return
        try:
            length = int(request.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0:
            request.close_connection = True
            self._json(request, 400, gateway_error("DEFAULT_4XX", "Invalid Content-Length"))
            return
        if length > MAX_BODY_BYTES:
            request.close_connection = True
            self._json(request, 413, gateway_error("REQUEST_TOO_LARGE", "Request Too Long"))
            return
        body = request.rfile.read(length) if length else b""
        parts = urlsplit(request.path)
        local = self._local_endpoints.get(parts.path)
        if local is not None and request.command in ("GET", "HEAD"):
            self._reply(request, *local())
            return
        found = find_route(self._routes, request.command, parts.path)
        if found is None:
            self._json(request, 403, MISSING_ROUTE)
            return
        route, params = found
        event = to_event(
            method=request.command,
            path=parts.path,
            query=parts.query,
            headers=list(request.headers.items()),
            body=body,
            route=route,
            path_parameters=params,
            stage=self._stage,
            source_ip=request.client_address[0],
        )
        if route.streaming:
            self._stream(request, event)
            return
        try:
            status, headers, payload = from_response(self._invoke(event))
        except Exception:  # a crashed or malformed invocation: API Gateway answers 502
            log.exception("API handler failed")
            self._json(request, 502, gateway_error("INTEGRATION_FAILURE", "Internal server error"))
            return
        self._reply(request, status, headers, payload)

    def _stream(self, request: BaseHTTPRequestHandler, event: dict[str, Any]) -> None:
        """API Gateway's streaming integration: the status and headers as soon as the app
        sends them, then each piece of the body as it is written (chunked), unbuffered."""
        assert self._web_adapter is not None
        try:
            connection, response = self._web_adapter.open(event)
        except (OSError, http.client.HTTPException):  # the app's server is gone: the integration failed
            log.exception("streaming function failed")
            self._json(request, 502, gateway_error("INTEGRATION_FAILURE", "Internal server error"))
            return
        try:
            request.send_response(response.status)
            for name, value in response.getheaders():
                if name.lower() not in _HOP_BY_HOP:
                    request.send_header(name, value)
            request.send_header("Transfer-Encoding", "chunked")
            request.end_headers()
            while chunk := response.read1(_CHUNK_BYTES):
                request.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            request.wfile.write(b"0\r\n\r\n")
        except (OSError, http.client.HTTPException):  # the client left, or the stream broke off
            request.close_connection = True
        finally:
            connection.close()

    @classmethod
    def _json(cls, request: BaseHTTPRequestHandler, status: int, body: dict[str, Any]) -> None:
        cls._reply(request, status, [("Content-Type", "application/json")], json.dumps(body).encode())

    @staticmethod
    def _reply(request: BaseHTTPRequestHandler, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        request.send_response(status)
        for name, value in headers:
            if name.lower() not in ("content-length", "connection"):
                request.send_header(name, value)
        request.send_header("Content-Length", str(len(body)))
        request.end_headers()
        if request.command != "HEAD":
            request.wfile.write(body)

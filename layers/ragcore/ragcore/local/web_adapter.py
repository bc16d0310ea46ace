"""The AWS Lambda Web Adapter's part offline, for the function whose routes stream
(template.yaml's ``StreamFunction``). In AWS the adapter runs the function's run script, which
serves the API's ASGI app with uvicorn on a loopback port; each API Gateway event becomes an
HTTP request to that server (the request context in ``x-amzn-request-context``), and the app's
response is streamed back as it is written (``AWS_LWA_INVOKE_MODE=response_stream``). Here the
same app object is served by uvicorn on a thread of this process (the same settings, as the
function gets the same environment), and the local gateway sends each streaming route's event
through ``open``, copying the answer out chunk by chunk."""

from __future__ import annotations

import base64
import contextlib
import http.client
import importlib
import json
import socket
import sys
import threading
import time
import weakref
from typing import Any
from urllib.parse import quote, urlencode

import uvicorn

from ragcore.local.template import StreamingSpec

# Seconds uvicorn gives requests still open when the stack stops (``stop`` cuts the streams first).
SHUTDOWN_GRACE_SECONDS = 2
_STARTUP_SECONDS = 30


class WebAdapter:
    def __init__(self, spec: StreamingSpec, host: str = "127.0.0.1") -> None:
        self.spec = spec
        self._socket = socket.create_server((host, 0))  # a free loopback port, as the run script's
        self._server = uvicorn.Server(uvicorn.Config(
            _load_app(spec), log_level="warning", access_log=False, lifespan="off",
            timeout_graceful_shutdown=SHUTDOWN_GRACE_SECONDS,
        ))
        self._thread: threading.Thread | None = None
        self._open: weakref.WeakSet[http.client.HTTPConnection] = weakref.WeakSet()

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._socket.getsockname()[:2]
        return host, port

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, name="web-adapter", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + _STARTUP_SECONDS
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"uvicorn did not start {self.spec.app}")
            time.sleep(0.01)

    def stop(self) -> None:
        """Open streams are cut first (as when the function's instance goes), so uvicorn
        sees their clients leave instead of waiting out its grace period."""
        for connection in list(self._open):
            if connection.sock is not None:
                with contextlib.suppress(OSError):
                    connection.sock.shutdown(socket.SHUT_RDWR)
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=SHUTDOWN_GRACE_SECONDS + 5)
        self._socket.close()

    def open(self, event: dict[str, Any]) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse]:
        """Sends ``event`` (a REST proxy event) to the app as the adapter does; the caller
        reads the response as it arrives, then closes the connection. The read timeout is
        the function's: Lambda ends a stream at its timeout."""
        method, target, headers, body = request_of(event)
        host, port = self.address
        connection = http.client.HTTPConnection(host, port, timeout=self.spec.function.timeout)
        self._open.add(connection)
        try:
            connection.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
            for name, value in headers:
                if name.lower() not in ("content-length", "transfer-encoding"):
                    connection.putheader(name, value)
            connection.putheader("Content-Length", str(len(body)))
            connection.endheaders(body)
            return connection, connection.getresponse()
        except BaseException:
            connection.close()
            raise


def request_of(event: dict[str, Any]) -> tuple[str, str, list[tuple[str, str]], bytes]:
    """The HTTP request the adapter makes of a REST proxy event: its method, ``path`` (no
    stage) and query, its headers plus ``x-amzn-request-context``, its body decoded."""
    query = urlencode(
        [(k, v) for k, values in (event.get("multiValueQueryStringParameters") or {}).items() for v in values]
    )
    target = quote(event["path"]) + (f"?{query}" if query else "")
    headers = [(k, v) for k, values in (event.get("multiValueHeaders") or {}).items() for v in values]
    headers.append(("x-amzn-request-context", json.dumps(event["requestContext"])))
    raw = event.get("body") or ""
    body = base64.b64decode(raw) if event.get("isBase64Encoded") else raw.encode("utf-8")
    return event["httpMethod"], target, headers, body


def _load_app(spec: StreamingSpec) -> Any:
    """``module:attribute`` from the function's code, as uvicorn loads it in the run script
    (its working directory, the function's code, on the path)."""
    code_dir = str(spec.function.code_uri)
    if code_dir not in sys.path:
        sys.path.insert(0, code_dir)
    module_name, _, attribute = spec.app.partition(":")
    return getattr(importlib.import_module(module_name), attribute)

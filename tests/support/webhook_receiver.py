"""A real local HTTP receiver for completion webhooks: it records every POST (headers, body,
arrival time) and answers with scripted statuses (then 200s), for tests and bench/."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class Delivery:
    path: str
    headers: dict[str, str]  # lower-case names
    body: bytes
    received_at: float  # epoch seconds
    answered: int  # the status this receiver gave


class WebhookReceiver:
    def __init__(self) -> None:
        self.script: list[int] = []  # statuses for the next POSTs, in order; then 200
        self.deliveries: list[Delivery] = []
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> "WebhookReceiver":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def for_job(self, job_id: str) -> list[Delivery]:
        with self._lock:
            return [d for d in self.deliveries if d.headers.get("webhook-id") == f"msg_{job_id}"]

    def wait_for(self, job_id: str, count: int = 1, timeout: float = 60, status: int | None = None) -> list[Delivery]:
        """The job's deliveries once ``count`` of them (answered ``status``, if given) arrived."""
        deadline = time.monotonic() + timeout
        with self._arrived:
            while True:
                found = [d for d in self.deliveries if d.headers.get("webhook-id") == f"msg_{job_id}"]
                if len([d for d in found if status is None or d.answered == status]) >= count:
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{len(found)} webhook(s) of job {job_id} arrived, not {count}")
                self._arrived.wait(left)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the http.server API
                arrived = time.time()
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver._arrived:
                    status = receiver.script.pop(0) if receiver.script else 200
                    receiver.deliveries.append(Delivery(
                        self.path, {k.lower(): v for k, v in self.headers.items()}, body, arrived, status))
                    receiver._arrived.notify_all()
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        return Handler

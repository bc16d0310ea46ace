"""A stand-in OpenAI-compatible endpoint over real HTTP, for tests that count LLM calls or
script failures. The real local model is used by the end-to-end tests."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable


@dataclass(frozen=True)
class Reply:
    """One scripted response: an HTTP status (with an OpenAI-style error ``code``), extra
    headers such as Retry-After, and a delay before answering (a hang, if long enough)."""

    status: int = 200
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)
    code: str | None = None
    echo_credentials: bool = False  # a careless endpoint: the error repeats the caller's key


class FakeLLM:
    def __init__(self, answer: str = "The light was first lit in 1874 [1].", delay: float = 0.0) -> None:
        self.answer = answer
        self.delay = delay  # for replies the script does not cover
        self.script: list[Reply] = []  # replies for the next calls, in order; then 200s
        # Or decide per request (e.g. by the question in it); None falls through to the script.
        self.reply_for: Callable[[dict], Reply | None] | None = None
        self.calls = 0
        self.call_times: list[float] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.requests: list[dict] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class(), bind_and_activate=False)
        self._server.request_queue_size = 128  # not 5: a burst of workers must not be reset
        self._server.daemon_threads = True  # a hung reply must not block shutdown
        self._server.server_bind()
        self._server.server_activate()
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def _next_reply(self, body: dict) -> Reply:
        with self._lock:
            self.calls += 1
            self.call_times.append(time.monotonic())
            self.requests.append(body)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            chosen = self.reply_for(body) if self.reply_for else None
            if chosen is None:
                chosen = self.script.pop(0) if self.script else Reply(delay=self.delay)
            return chosen

    def _payload(self, body: dict, reply: Reply, authorization: str = "") -> dict:
        if reply.status != 200:
            message = f"bad credentials: {authorization}" if reply.echo_credentials else "scripted failure"
            return {"error": {"message": message, "type": "server_error", "code": reply.code}}
        return {
            "id": "chatcmpl-test", "object": "chat.completion", "created": 0, "model": body["model"],
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": self.answer}}],
            "usage": {"prompt_tokens": 50, "completion_tokens": 10, "total_tokens": 60},
        }

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            disable_nagle_algorithm = True  # no 40 ms delayed-ACK stall between headers and body

            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                reply = fake._next_reply(body)
                try:
                    time.sleep(reply.delay)
                    raw = json.dumps(fake._payload(body, reply, self.headers.get("Authorization", ""))).encode()
                    self.send_response(reply.status)
                    for name, value in {"Content-Type": "application/json", **reply.headers}.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(raw)))
                    self.end_headers()
                    self.wfile.write(raw)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up waiting (a timeout test)
                finally:
                    with fake._lock:
                        fake.in_flight -= 1

            def log_message(self, *args: object) -> None:
                pass

        return Handler

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def questions(self) -> list[str]:
        """The user message of every call so far, to count calls per job."""
        return [r["messages"][-1]["content"] for r in self.requests]

    def __enter__(self) -> "FakeLLM":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

"""A stand-in OpenAI-compatible endpoint over real HTTP, for tests that count LLM calls or
script failures. The real local model is used by the end-to-end tests."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FakeLLM:
    def __init__(self, answer: str = "The light was first lit in 1874 [1].", delay: float = 0.0) -> None:
        self.answer = answer
        self.delay = delay
        self.statuses: list[int] = []  # scripted HTTP statuses for the next calls; then 200
        self.calls = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self.requests: list[dict] = []
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with fake._lock:
                    fake.calls += 1
                    fake.requests.append(body)
                    fake.in_flight += 1
                    fake.max_in_flight = max(fake.max_in_flight, fake.in_flight)
                    status = fake.statuses.pop(0) if fake.statuses else 200
                try:
                    time.sleep(fake.delay)
                    if status != 200:
                        payload = {"error": {"message": "scripted failure", "type": "server_error"}}
                    else:
                        payload = {
                            "id": "chatcmpl-test", "object": "chat.completion", "created": 0,
                            "model": body["model"],
                            "choices": [{"index": 0, "finish_reason": "stop",
                                         "message": {"role": "assistant", "content": fake.answer}}],
                            "usage": {"prompt_tokens": 50, "completion_tokens": 10, "total_tokens": 60},
                        }
                    raw = json.dumps(payload).encode()
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(raw)))
                    self.end_headers()
                    self.wfile.write(raw)
                finally:
                    with fake._lock:
                        fake.in_flight -= 1

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def __enter__(self) -> "FakeLLM":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

"""A stand-in OpenAI-compatible endpoint over real HTTP, for tests that count LLM calls or
script failures. The real local model is used by the end-to-end tests.

A request with ``"stream": true`` is answered as OpenAI streams: server-sent events, one chunk
per word of the answer ``token_delay`` seconds apart, then the finish reason, the usage (when
``stream_options.include_usage`` asks) and ``[DONE]``. ``first_tokens`` records when each
stream's first word was sent, so a bench can time what a client sees against it."""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable, Iterator


USAGE = {"prompt_tokens": 50, "completion_tokens": 10, "total_tokens": 60}  # every answer's, streamed or not


@dataclass(frozen=True)
class Reply:
    """One scripted response: an HTTP status (with an OpenAI-style error ``code``), extra
    headers such as Retry-After, and a delay before answering (a hang, if long enough)."""

    status: int = 200
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)
    code: str | None = None
    echo_credentials: bool = False  # a careless endpoint: the error repeats the caller's key
    # A stream that breaks: after this many words, an error event (OpenAI's mid-stream failure)
    # with ``code``, or with ``drop`` the connection simply closes.
    fail_after: int | None = None
    drop: bool = False
    token_delay: float | None = None  # this stream's delay between words (else the fake's)
    # A stream that pauses after this many words until the event is set: a test sees the
    # answer so far before the rest is written (a condition, not a timing).
    hold: tuple[int, threading.Event] | None = None


class FakeLLM:
    def __init__(
        self, answer: str = "The light was first lit in 1874 [1].", delay: float = 0.0,
        token_delay: float = 0.0,
    ) -> None:
        self.answer = answer
        self.delay = delay  # for replies the script does not cover
        self.token_delay = token_delay  # between a stream's words
        self.stream_usage = True  # a server that leaves usage out of its streams: False
        self.first_tokens: dict[str, float] = {}  # the question (last user message): epoch seconds
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
            "usage": USAGE,
        }

    def _chunks(self, body: dict, reply: Reply) -> Iterator[tuple[float, dict | None]]:
        """A stream's events with the delay before each (None: the connection drops)."""
        def chunk(delta: dict, finish: str | None = None) -> dict:
            return {"id": "chatcmpl-test", "object": "chat.completion.chunk", "created": 0, "model": body["model"],
                    "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}

        gap = self.token_delay if reply.token_delay is None else reply.token_delay
        yield 0.0, chunk({"role": "assistant", "content": ""})
        words = re.findall(r"\S+\s*", self.answer)
        for n, word in enumerate(words):
            if reply.hold and n == reply.hold[0]:
                reply.hold[1].wait(timeout=60)
            if n == reply.fail_after:
                failure = {"message": "scripted failure", "type": "server_error", "code": reply.code}
                yield 0.0, None if reply.drop else {"error": failure}
                return
            yield (gap if n else 0.0), chunk({"content": word})
        yield 0.0, chunk({}, "stop")
        if self.stream_usage and body.get("stream_options", {}).get("include_usage"):
            yield 0.0, {**chunk({}), "choices": [], "usage": USAGE}

    def _stream(self, handler: BaseHTTPRequestHandler, body: dict, reply: Reply) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "text/event-stream")
        handler.end_headers()  # HTTP/1.0: the body ends when the connection closes
        question = body["messages"][-1]["content"]
        for delay, event in self._chunks(body, reply):
            time.sleep(delay)
            if event is None:
                return
            handler.wfile.write(f"data: {json.dumps(event)}\n\n".encode())
            if "error" in event:
                return
            if event.get("choices") and event["choices"][0]["delta"].get("content"):
                self.first_tokens.setdefault(question, time.time())
        handler.wfile.write(b"data: [DONE]\n\n")

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            disable_nagle_algorithm = True  # no 40 ms delayed-ACK stall between headers and body

            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                reply = fake._next_reply(body)
                try:
                    time.sleep(reply.delay)
                    if body.get("stream") and reply.status == 200:
                        fake._stream(self, body, reply)
                        return
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

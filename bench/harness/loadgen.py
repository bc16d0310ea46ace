"""An HTTP/1.1 load generator on asyncio streams: keep-alive connections, one request in
flight per connection, in one process. Lighter than an HTTP library (the client shares the
machine with the servers it measures).

- ``closed_loop``: C clients, each sending its next request as soon as the last is answered;
  gives the most requests per second the server takes, and latency at that concurrency.
- ``open_loop``: requests *scheduled* at a fixed rate whatever the server does (as real clients
  arrive); each latency runs from its scheduled time, so a stalled server is charged for the
  requests that queued behind it (no coordinated omission, as wrk2).
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from typing import Callable

from ragcore.observability.stats import percentile

Body = Callable[[int], dict]


@dataclass
class Run:
    latencies_ms: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    errors: int = 0
    seconds: float = 0.0
    offered_rate: float | None = None

    @property
    def ok(self) -> int:
        return sum(n for status, n in self.statuses.items() if 200 <= status < 300)

    @property
    def rate(self) -> float:
        return self.ok / self.seconds if self.seconds else float("nan")

    def p(self, q: float) -> float:
        value = percentile(self.latencies_ms, q)
        return float("nan") if value is None else value  # no requests: "n/a", as max_ms

    def summary(self) -> dict:
        return {"requests": len(self.latencies_ms), "ok": self.ok, "errors": self.errors,
                "statuses": self.statuses, "seconds": round(self.seconds, 2), "req_per_s": round(self.rate, 1),
                "offered_rate": self.offered_rate, "p50_ms": self.p(0.5), "p95_ms": self.p(0.95),
                "p99_ms": self.p(0.99), "max_ms": max(self.latencies_ms, default=float("nan"))}


class _Connection:
    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, raw: bytes) -> int:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        self.writer.write(raw)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length, close = 0, False
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"connection" and value.strip().lower() == b"close":
                close = True
        if length:
            await self.reader.readexactly(length)
        if close:
            self.close()
        return status

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


def _raw(host: str, port: int, method: str, path: str, body: dict | None) -> bytes:
    payload = json.dumps(body).encode() if body is not None else b""
    head = f"{method} {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
    return (head + f"Content-Length: {len(payload)}\r\n\r\n").encode() + payload


async def _one(conn: _Connection, raw: bytes, started: float, run: Run) -> None:
    for attempt in (1, 2):
        reused = conn.writer is not None
        try:
            status = await conn.request(raw)
            break
        except (OSError, asyncio.IncompleteReadError, ValueError):
            conn.close()
            # A kept-alive connection the server closed while idle (uvicorn does after 5 s):
            # send again on a new one, as HTTP clients do. Anything else is an error.
            if not (reused and attempt == 1):
                run.errors += 1
                return
    run.latencies_ms.append((time.perf_counter() - started) * 1000)
    run.statuses[status] = run.statuses.get(status, 0) + 1


async def _closed(host: str, port: int, path: str, body: Body, concurrency: int, requests: int) -> Run:
    run, counter = Run(), iter(range(requests))

    async def client() -> None:
        conn = _Connection(host, port)
        for i in counter:
            await _one(conn, _raw(host, port, "POST", path, body(i)), time.perf_counter(), run)
        conn.close()

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(concurrency)))
    run.seconds = time.perf_counter() - started
    return run


async def _open(host: str, port: int, path: str, body: Body, rate: float, seconds: float,
                max_connections: int) -> Run:
    run = Run(offered_rate=rate)
    idle: list[_Connection] = []
    opened = 0
    waiting: asyncio.Queue[_Connection] = asyncio.Queue()
    tasks = []

    async def send(i: int, scheduled: float) -> None:
        nonlocal opened
        if idle:
            conn = idle.pop()
        elif opened < max_connections:
            opened += 1
            conn = _Connection(host, port)
        else:
            conn = await waiting.get()  # all busy: this request queues in the client, its clock runs
        await _one(conn, _raw(host, port, "POST", path, body(i)), scheduled, run)
        if waiting._getters:  # noqa: SLF001 - hand the connection straight to a queued request
            waiting.put_nowait(conn)
        else:
            idle.append(conn)

    count = int(rate * seconds)
    start = time.perf_counter() + 0.05
    for i in range(count):
        scheduled = start + i / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(send(i, scheduled)))
    await asyncio.gather(*tasks)
    run.seconds = time.perf_counter() - start
    for conn in idle:
        conn.close()
    return run


def closed_loop(url: str, path: str, body: Body, concurrency: int, requests: int) -> Run:
    host, port = _address(url)
    return asyncio.run(_closed(host, port, path, body, concurrency, requests))


def open_loop(url: str, path: str, body: Body, rate: float, seconds: float, max_connections: int = 256) -> Run:
    host, port = _address(url)
    return asyncio.run(_open(host, port, path, body, rate, seconds, max_connections))


def _address(url: str) -> tuple[str, int]:
    host, _, port = url.removeprefix("http://").rstrip("/").partition(":")
    return host, int(port)

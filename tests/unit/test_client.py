"""The Python client over ``httpx.MockTransport``: error answers become typed exceptions,
the key travels only as a Bearer header, and requests are resent only where that is safe.
The client against the real API: tests/integration/test_client.py."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from typing import Any

import httpx
import pytest

from ragcore.client import (
    ApiError,
    ApiUnreachable,
    AsyncClient,
    BadRequest,
    Client,
    JobFailed,
    JobStopped,
    NotFound,
    NotReady,
    RateLimited,
    ResultView,
    ServerError,
    RagcoreError,
    Unauthorized,
    Unavailable,
    UnexpectedResponse,
    WaitTimeout,
)
from ragcore.client.errors import error_from_response, parse_retry_after

JOB = "b" * 32
CONVERSATION = "c" * 32
SECRET = "rk_abcdefgh_0123456789abcdef0123456789abcdef"
ANSWER = {
    "job_id": JOB, "kind": "chat", "status": "finished", "created_at": None, "finished_at": None,
    "answer": "In 1874 [1].", "model": "m",
    "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    "timings_ms": {"embed_ms": 1, "retrieval_ms": 1, "llm_ms": 1, "total_ms": 3},
    "sources": [{"n": 1, "chunk_id": "c", "document_id": "d", "title": "T", "source": "t.md", "score": 1.0,
                 "snippet": "s"}],
}
LINKS = {"status": f"/job-status/{JOB}", "result": f"/result/{JOB}"}


def error(http_status: int, code: str, message: str = "m", headers: dict[str, str] | None = None,
          **extra: object) -> httpx.Response:
    return httpx.Response(http_status, json={"error": {"code": code, "message": message, **extra}},
                          headers=headers)


def mapped(response: httpx.Response) -> ApiError:
    response.request = httpx.Request("GET", "http://api/x")
    return error_from_response(response)


def test_error_answers_become_typed_exceptions_with_status_code_message_and_retry_after() -> None:
    unauthorized = mapped(error(401, "unauthorized", "send a valid API key"))
    assert type(unauthorized) is Unauthorized and unauthorized.status == 401
    assert (unauthorized.code, unauthorized.message, unauthorized.retry_after) == (
        "unauthorized", "send a valid API key", None)
    assert str(unauthorized) == "401 unauthorized: send a valid API key"
    assert type(mapped(error(404, "job_not_found"))) is NotFound
    limited = mapped(error(429, "quota_exceeded", headers={"Retry-After": "3600"}))
    assert type(limited) is RateLimited and limited.retry_after == 3600
    failed = mapped(error(409, "job_failed", "context too long", job_id=JOB, status="failed"))
    assert type(failed) is JobFailed and failed.job_id == JOB and failed.message == "context too long"
    assert type(mapped(error(409, "job_stopped", "stopped on request", job_id=JOB))) is JobStopped
    invalid = mapped(error(422, "invalid_request", details=[{"field": "top_k", "problem": "too big"}]))
    assert type(invalid) is BadRequest and invalid.details[0].field == "top_k"
    assert type(mapped(error(503, "dependency_unavailable", headers={"Retry-After": "5"}))) is Unavailable


def test_an_answer_not_in_the_apis_shape_still_becomes_an_error_with_its_status() -> None:
    page = mapped(httpx.Response(502, text="<html>Bad Gateway</html>", headers={"Content-Type": "text/html"}))
    assert type(page) is ServerError
    assert (page.status, page.code, page.message) == (502, "http_502", "Bad Gateway")
    assert type(mapped(httpx.Response(418, text="teapot"))) is ApiError


def test_retry_after_is_read_as_seconds_or_as_a_date() -> None:
    assert parse_retry_after("7") == 7
    later = format_datetime(datetime.now(timezone.utc) + timedelta(seconds=30), usegmt=True)
    assert 25 <= parse_retry_after(later) <= 30
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None


def scripted(*responses: httpx.Response | Exception) -> tuple[httpx.MockTransport, list[httpx.Request]]:
    """A transport answering with each response (or raising each exception) in turn."""
    seen: list[httpx.Request] = []
    pending = list(responses)

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        reply = pending.pop(0)
        if isinstance(reply, Exception):
            raise reply
        return reply

    return httpx.MockTransport(handle), seen


def test_the_key_goes_as_a_bearer_header_and_never_into_a_repr_or_an_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RAGCORE_API_URL", "http://api.example/v1/")
    monkeypatch.setenv("RAGCORE_API_KEY", SECRET)
    transport, seen = scripted(error(401, "unauthorized", "send a valid API key"))
    with Client(transport=transport) as client, pytest.raises(Unauthorized) as raised:
        assert SECRET not in repr(client) and client.base_url == "http://api.example/v1"
        client.status(JOB)
    assert seen[0].headers["Authorization"] == f"Bearer {SECRET}"
    assert str(seen[0].url) == f"http://api.example/v1/job-status/{JOB}"
    assert SECRET not in str(raised.value) and SECRET not in repr(raised.value.__dict__)


def test_an_argument_wins_over_the_environment_and_no_key_sends_no_header(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RAGCORE_API_KEY", SECRET)
    transport, seen = scripted(httpx.Response(200, json=ANSWER))
    with Client("http://other:1", api_key="", transport=transport) as client:
        assert isinstance(client.result(JOB), ResultView)
    assert "Authorization" not in seen[0].headers and seen[0].url.host == "other"


def test_an_id_stays_one_path_segment() -> None:
    transport, seen = scripted(error(422, "invalid_request"))
    with Client("http://api", transport=transport) as client, pytest.raises(BadRequest):
        client.status("../documents")
    assert seen[0].url.raw_path == b"/job-status/..%2Fdocuments"


def test_reads_are_resent_after_retry_after_and_posts_with_one_idempotency_key() -> None:
    transport, seen = scripted(error(503, "dependency_unavailable", headers={"Retry-After": "0"}),
                               httpx.Response(202, json={"job_id": JOB, "status": "queued", "message": "m",
                                                         "links": LINKS}, headers={"Retry-After": "2"}))
    with Client("http://api", transport=transport) as client:
        assert isinstance(client.result(JOB), NotReady) and len(seen) == 2
        assert "Idempotency-Key" not in seen[0].headers

    def accepted() -> httpx.Response:
        return httpx.Response(202, json={"job_id": JOB, "status": "queued", "links": LINKS, "conversation_id": CONVERSATION})

    transport, seen = scripted(error(429, "rate_limited", headers={"Retry-After": "0"}),
                               httpx.ConnectError("refused"), accepted())
    with Client("http://api", transport=transport) as client:
        assert client.submit("q", top_k=3).job_id == JOB
    assert [json.loads(r.content) for r in seen] == [{"query": "q", "top_k": 3}] * 3

    # A lost answer, a gateway timeout or the first send still running: the job may exist, so
    # the resend carries the same key and the API answers it with that job.
    for ambiguous in (error(504, "INTEGRATION_TIMEOUT"), httpx.ReadTimeout("no answer"),
                      error(409, "idempotency_key_in_flight", headers={"Retry-After": "0"})):
        transport, seen = scripted(ambiguous, accepted(), accepted())
        with Client("http://api", transport=transport) as client:
            assert client.submit("q").job_id == JOB
            client.submit("q")
        keys = [r.headers["Idempotency-Key"] for r in seen]
        assert len(keys) == 3 and keys[0] == keys[1] != keys[2]  # one key per call, not per send

    transport, seen = scripted(accepted())
    with Client("http://api", transport=transport) as client:
        client.submit("q", idempotency_key="order-42")
    assert seen[0].headers["Idempotency-Key"] == "order-42"


def test_a_long_retry_after_is_left_to_the_caller() -> None:
    transport, seen = scripted(error(429, "quota_exceeded", headers={"Retry-After": "40000"}))
    with Client("http://api", transport=transport) as client, pytest.raises(RateLimited) as raised:
        client.status(JOB)
    assert raised.value.retry_after == 40000 and len(seen) == 1


def test_the_async_client_maps_and_resends_the_same_way() -> None:
    transport, seen = scripted(error(503, "dependency_unavailable", headers={"Retry-After": "0"}),
                               httpx.Response(200, json=ANSWER),
                               error(409, "job_stopped", "stopped on request", job_id=JOB, status="stopped"))

    async def run() -> None:
        async with AsyncClient("http://api", api_key=SECRET, transport=transport) as client:
            assert SECRET not in repr(client)
            assert (await client.wait(JOB, timeout=5)).answer == "In 1874 [1]."
            with pytest.raises(JobStopped):
                await client.wait(JOB, timeout=5)

    asyncio.run(run())
    assert len(seen) == 3 and seen[0].headers["Authorization"] == f"Bearer {SECRET}"


def _not_ready(status: str = "started") -> httpx.Response:
    return httpx.Response(202, json={"job_id": JOB, "status": status, "message": "m", "links": LINKS},
                          headers={"Retry-After": "2"})


def test_wait_ends_at_its_timeout_whatever_the_api_asks_for() -> None:
    """Resends inside a poll fit in what is left: a 503 asking for 3 s with 1 s left ends the
    wait (WaitTimeout naming the last status seen), not after 3 resends of 3 s each."""
    import time

    refusal = error(503, "dependency_unavailable", headers={"Retry-After": "3"})
    transport, seen = scripted(_not_ready(), *[refusal] * 4)
    started = time.monotonic()
    with Client("http://api", transport=transport) as client, pytest.raises(WaitTimeout) as raised:
        client.wait(JOB, timeout=1.0)
    assert time.monotonic() - started < 1.5
    assert raised.value.status.value == "started" and raised.value.timeout == 1.0
    assert isinstance(raised.value.__cause__, Unavailable)
    # Each request's own timeouts were cut to what was left of the wait (never the client's 30 s).
    for request in seen:
        assert all(limit is not None and limit <= 1.0 for limit in request.extensions["timeout"].values())


def test_ask_fits_the_submission_and_the_wait_in_its_timeout() -> None:
    import time

    accepted = httpx.Response(202, json={"job_id": JOB, "status": "queued", "links": LINKS, "conversation_id": CONVERSATION})
    transport, seen = scripted(error(429, "rate_limited", headers={"Retry-After": "0"}), accepted,
                               *[_not_ready()] * 20)
    started = time.monotonic()
    with Client("http://api", transport=transport) as client, pytest.raises(WaitTimeout):
        client.ask("q", timeout=1.2)
    assert time.monotonic() - started < 1.8
    assert json.loads(seen[1].content) == {"query": "q"}  # the 429 was resent (no job was made)

    async def run() -> None:
        transport, _ = scripted(*[error(503, "dependency_unavailable", headers={"Retry-After": "3"})] * 4)
        async with AsyncClient("http://api", transport=transport) as client:
            with pytest.raises(WaitTimeout):
                await client.wait(JOB, timeout=0.5)

    started = time.monotonic()
    asyncio.run(run())
    assert time.monotonic() - started < 1.0


def test_without_a_deadline_retries_end_with_the_apis_error_as_before() -> None:
    refusal = error(503, "dependency_unavailable", headers={"Retry-After": "0"})
    transport, seen = scripted(*[refusal] * 4)
    with Client("http://api", transport=transport) as client, pytest.raises(Unavailable):
        client.status(JOB)
    assert len(seen) == 4  # the first attempt and three resends


@pytest.mark.parametrize("answer", [
    lambda: httpx.Response(200, text="<html>Welcome to the hotel wifi</html>", headers={"Content-Type": "text/html"}),
    lambda: httpx.Response(200, json={"unexpected": True}),
    lambda: httpx.Response(302, headers={"Location": "http://login.example/"}),
    lambda: httpx.TooManyRedirects("Exceeded maximum allowed redirects."),
], ids=["html-200", "other-json", "redirect", "too-many-redirects"])
def test_an_answer_that_is_not_the_apis_is_a_ragcore_error(answer: Any) -> None:
    transport, _ = scripted(answer())
    with Client("http://api", transport=transport) as client, pytest.raises(UnexpectedResponse) as raised:
        client.status(JOB)
    assert isinstance(raised.value, RagcoreError) and f"/job-status/{JOB}" in str(raised.value)

    async def run() -> None:
        transport, _ = scripted(answer())
        async with AsyncClient("http://api", transport=transport) as client:
            await client.status(JOB)

    with pytest.raises(UnexpectedResponse):
        asyncio.run(run())


def test_the_cli_exits_3_on_an_answer_that_is_not_the_apis(capsys: pytest.CaptureFixture[str]) -> None:
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from ragcore.cli import main

    class Portal(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            body = b"<html>sign in to continue</html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Portal)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        code = main(["status", JOB, "--api", f"http://127.0.0.1:{server.server_address[1]}"])
    finally:
        server.shutdown()
    err = capsys.readouterr().err
    assert code == 3
    assert len(err.strip().splitlines()) == 1 and "unexpected answer" in err and "Traceback" not in err

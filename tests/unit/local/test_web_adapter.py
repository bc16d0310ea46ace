"""The request the Lambda Web Adapter makes of an API Gateway REST event, as the offline
stand-in makes it (``local.web_adapter.request_of``)."""

from __future__ import annotations

import base64
import json

from ragcore.local.apigateway import Route, to_event
from ragcore.local.web_adapter import request_of


def event(body: bytes = b"", query: str = "") -> dict:
    return to_event(
        method="GET", path="/jobs/abc/events", query=query,
        headers=[("Last-Event-ID", "1-0"), ("X-Many", "a"), ("X-Many", "b")], body=body,
        route=Route("GET", "/jobs/{job_id}/events", streaming=True), path_parameters={"job_id": "abc"},
        stage="v1", source_ip="127.0.0.1",
    )


def test_the_event_becomes_the_request_the_app_would_get_from_api_gateway() -> None:
    sent = event(query="last_event_id=2-0&x=a%20b&x=c")
    method, target, headers, body = request_of(sent)
    assert (method, body) == ("GET", b"")
    assert target == "/jobs/abc/events?last_event_id=2-0&x=a+b&x=c"  # no stage: the event's path
    assert [h for h in headers if h[0] != "x-amzn-request-context"] == [
        ("Last-Event-ID", "1-0"), ("X-Many", "a"), ("X-Many", "b")]
    context = json.loads(dict(headers)["x-amzn-request-context"])
    assert context == sent["requestContext"] and context["stage"] == "v1"


def test_a_binary_body_arrives_as_sent() -> None:
    raw = bytes(range(256))
    sent = event(body=raw)
    assert sent["isBase64Encoded"] and base64.b64decode(sent["body"]) == raw
    assert request_of(sent)[3] == raw

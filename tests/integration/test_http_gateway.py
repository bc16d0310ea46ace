"""The local API Gateway: real HTTP in, the REST proxy event the handler gets, its reply out."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from ragcore.local.apigateway import Route
from ragcore.local.http_gateway import HttpGateway
from tests.support.paths import free_port, load_event


@pytest.fixture
def gateway():  # type: ignore[no-untyped-def]
    received: list[dict[str, Any]] = []

    def invoke(event: dict[str, Any]) -> dict[str, Any]:
        received.append(event)
        return {"statusCode": 201, "headers": {"content-type": "application/json"},
                "multiValueHeaders": {"set-cookie": ["a=1", "b=2"]}, "body": json.dumps({"ok": True}),
                "isBase64Encoded": False}

    server = HttpGateway("127.0.0.1", free_port(), [Route("POST", "/chat"), Route("GET", "/result/{job_id}")], "v1", invoke)
    server.start()
    yield server, received
    server.stop()


def test_request_becomes_the_same_event_shape_as_the_sample(gateway) -> None:  # type: ignore[no-untyped-def]
    server, received = gateway
    response = httpx.post(f"{server.url}/chat?x=1", json={"query": "q"})
    assert response.status_code == 201 and response.json() == {"ok": True}
    assert response.headers.get_list("set-cookie") == ["a=1", "b=2"]
    event = received[0]
    sample = load_event("api_chat.json")
    assert set(event) == set(sample)
    assert set(event["requestContext"]) >= {"resourcePath", "httpMethod", "path", "stage", "requestId", "identity"}
    assert event["resource"] == "/chat" and event["httpMethod"] == "POST"
    assert event["queryStringParameters"] == {"x": "1"}
    assert json.loads(event["body"]) == {"query": "q"}


def test_path_parameters_are_extracted(gateway) -> None:  # type: ignore[no-untyped-def]
    server, received = gateway
    httpx.get(f"{server.url}/result/abc")
    assert received[0]["resource"] == "/result/{job_id}"
    assert received[0]["pathParameters"] == {"job_id": "abc"}


def test_unknown_route_is_answered_like_api_gateway(gateway) -> None:  # type: ignore[no-untyped-def]
    server, received = gateway
    response = httpx.get(f"{server.url}/nope")
    assert response.status_code == 403
    assert response.json() == {"error": {"code": "MISSING_AUTHENTICATION_TOKEN", "message": "Missing Authentication Token"}}
    assert received == []


def test_a_crashing_handler_is_a_502_like_api_gateway() -> None:
    def crash(event: dict[str, Any]) -> dict[str, Any]:
        raise RuntimeError("handler bug")

    server = HttpGateway("127.0.0.1", free_port(), [Route("GET", "/")], "v1", crash)
    server.start()
    try:
        response = httpx.get(f"{server.url}/")
        assert response.status_code == 502
        assert response.json()["error"] == {"code": "INTEGRATION_FAILURE", "message": "Internal server error"}
        chunked = httpx.post(f"{server.url}/", content=iter([b"a", b"b"]))
        assert chunked.status_code == 411
    finally:
        server.stop()

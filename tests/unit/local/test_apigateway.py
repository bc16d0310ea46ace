import base64

from ragcore.local.apigateway import Route, find_route, from_response, to_event
from tests.support.paths import load_event

ROUTES = [Route("GET", "/"), Route("POST", "/chat"), Route("GET", "/result/{job_id}")]


def test_routes_match_method_and_path_parameters() -> None:
    assert find_route(ROUTES, "GET", "/result/abc") == (ROUTES[2], {"job_id": "abc"})
    assert find_route(ROUTES, "POST", "/result/abc") is None
    assert find_route(ROUTES, "GET", "/result/abc/extra") is None
    assert find_route(ROUTES, "GET", "/") == (ROUTES[0], {})


def test_event_has_the_shape_of_the_committed_sample() -> None:
    event = to_event(method="POST", path="/chat", query="a=1&a=2&b=", headers=[("Content-Type", "application/json")],
                     body=b'{"query": "q"}', route=ROUTES[1], path_parameters={}, stage="v1", source_ip="10.0.0.1")
    sample = load_event("api_chat.json")
    assert set(event) == set(sample)
    assert event["queryStringParameters"] == {"a": "2", "b": ""}
    assert event["multiValueQueryStringParameters"] == {"a": ["1", "2"], "b": [""]}
    assert event["requestContext"]["path"] == "/chat" and event["requestContext"]["stage"] == "v1"
    assert event["body"] == '{"query": "q"}' and event["isBase64Encoded"] is False


def test_binary_bodies_are_base64_encoded() -> None:
    event = to_event(method="POST", path="/chat", query="", headers=[], body=b"\xff\xfe", route=ROUTES[1],
                     path_parameters={}, stage="v1", source_ip="10.0.0.1")
    assert event["isBase64Encoded"] is True and base64.b64decode(event["body"]) == b"\xff\xfe"


def test_response_headers_and_base64_bodies_are_decoded() -> None:
    status, headers, body = from_response({
        "statusCode": 202, "headers": {"content-type": "application/json"},
        "multiValueHeaders": {"set-cookie": ["a", "b"]},
        "body": base64.b64encode(b"{}").decode(), "isBase64Encoded": True,
    })
    assert status == 202 and body == b"{}"
    assert headers == [("content-type", "application/json"), ("set-cookie", "a"), ("set-cookie", "b")]

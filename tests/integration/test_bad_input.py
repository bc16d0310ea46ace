"""Client mistakes, one by one, through the API Lambda handler with real Valkey, SQS and S3:
each gets the right 4xx with the JSON error body, and none leaves anything behind (no job or
registry record, no blob, no queue message). Cases already in test_api_handler.py and
test_documents.py are not repeated here."""

from __future__ import annotations

import base64
import copy
import json
import uuid
from typing import Any, Callable, Iterator

import pytest

from ragcore.adapters.valkey_client import connect
from ragcore.bootstrap import installed
from ragcore.domain.messages import MAX_QUERY_CHARS
from rag_api.limits import MAX_BODY_BYTES
from tests.integration.conftest import REGION
from tests.integration.test_api_handler import call, chat_event
from tests.support.paths import load_event
from tests.support.settings import settings_from

JOB_ID = "0123456789abcdef0123456789abcdef"
BAD_JOB_IDS = [
    "nope", JOB_ID.upper(), JOB_ID[:-1], JOB_ID + "0", JOB_ID[:-1] + "\n", JOB_ID[:-1] + "\x00", "٠" * 32,
    ".." + JOB_ID[2:],
]
JOB_ROUTES = [
    ("GET", "/job-status/{}"), ("GET", "/result/{}"), ("POST", "/jobs/{}/cancel"),
    ("POST", "/documents/uploads/{}/complete"),
]
JSON_ROUTES = ["/chat", "/documents", "/documents/uploads"]
A_FILE = ("a.txt", b"hi", "text/plain")
Reject = Callable[[dict[str, Any], int, str], dict[str, Any]]


def event(
    method: str, path: str, body: str | bytes | None = None, content_type: str | None = "application/json",
    query: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A REST API proxy event like the sample's; bytes that are not UTF-8 go base64-encoded,
    as API Gateway sends a binary body."""
    sample = copy.deepcopy(load_event("api_chat.json"))
    headers = {k: v for k, v in sample["headers"].items() if k != "Content-Type"}
    if content_type is not None:
        headers["Content-Type"] = content_type
    if isinstance(body, bytes):
        body, encoded = base64.b64encode(body).decode(), True
    else:
        encoded = False
    sample.update(
        httpMethod=method, path=path, resource=path, body=body, isBase64Encoded=encoded, headers=headers,
        multiValueHeaders={k: [v] for k, v in headers.items()}, queryStringParameters=query,
        multiValueQueryStringParameters={k: [v] for k, v in query.items()} if query else None,
    )
    sample["requestContext"].update(httpMethod=method, resourcePath=path, path=path)
    return sample


def multipart(
    fields: dict[str, str], file: tuple[str, bytes, str] | None = A_FILE, boundary: str = "b0undary"
) -> tuple[bytes, str]:
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
             for name, value in fields.items()]
    if file is not None:
        name, data, content_type = file
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
                     f"Content-Type: {content_type}\r\n\r\n".encode() + data + b"\r\n")
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


@pytest.fixture(scope="module", autouse=True)
def api_env(valkey_url: str, localstack_url: str, sqs: Any, bucket: str) -> Iterator[dict[str, str]]:
    """The API function's environment (as ``lambda_env`` sets it), once for the module: none of
    these requests may reach the worker or the LLM, so one queue serves them all and must stay
    empty throughout, and no fake LLM is needed. Per test, ``lambda_env`` would cost ~0.5 s."""
    env = {
        "VALKEY_URL": valkey_url,
        "JOBS_QUEUE_URL": sqs.create_queue(QueueName=f"bad-input-{uuid.uuid4().hex[:12]}")["QueueUrl"],
        "DOCUMENTS_BUCKET": bucket,
        "AWS_ENDPOINT_URL": localstack_url,
        "AWS_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AUTH_DISABLED": "1",  # keys are test_auth.py's subject
    }
    with installed(settings_from(env)):
        yield env


@pytest.fixture
def reject(api_env: dict[str, str], sqs: Any, s3: Any) -> Reject:
    """Calls the handler with an event and checks the status, the JSON error and that nothing
    was left behind: no new Valkey key (job, registry entry, upload), no blob, no message."""
    client = connect(api_env["VALKEY_URL"], timeout_seconds=5)

    def blobs() -> set[str]:
        return {o["Key"] for o in s3.list_objects_v2(Bucket=api_env["DOCUMENTS_BUCKET"]).get("Contents", [])}

    keys_before, blobs_before = set(client.keys("*")), blobs()

    def check(ev: dict[str, Any], status: int, code: str) -> dict[str, Any]:
        got, body, headers = call(ev)
        assert got == status, body
        assert headers["content-type"] == "application/json"
        assert body["error"]["code"] == code and body["error"]["message"]
        assert set(client.keys("*")) == keys_before
        assert blobs() == blobs_before
        assert "Messages" not in sqs.receive_message(QueueUrl=api_env["JOBS_QUEUE_URL"], WaitTimeSeconds=0)
        return body["error"]

    return check


def invalid_fields(reject: Reject, ev: dict[str, Any]) -> list[str]:
    """The fields a 422 ``invalid_request`` names."""
    return [d["field"] for d in reject(ev, 422, "invalid_request")["details"]]


@pytest.mark.parametrize("query", ["\t\n\r ", "\u3000\u00a0\u2003", "\n" * 50])
def test_a_blank_query_is_422(query: str, reject: Reject) -> None:
    assert invalid_fields(reject, chat_event({"query": query})) == ["query"]


@pytest.mark.parametrize("char", ["é", "𝄞"])
def test_a_query_over_the_limit_in_characters_is_422_whatever_its_bytes(char: str, reject: Reject) -> None:
    assert invalid_fields(reject, chat_event({"query": char * (MAX_QUERY_CHARS + 1)})) == ["query"]


@pytest.mark.parametrize("path", JSON_ROUTES)
@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "no-content-length"])
def test_a_body_over_the_limit_is_413_json(path: str, declared: bool, reject: Reject) -> None:
    body = json.dumps({"query": "x" * (7 * 1024 * 1024)})
    assert len(body) > MAX_BODY_BYTES
    ev = event("POST", path, body)
    if declared:
        ev["headers"]["Content-Length"] = str(len(body))
        ev["multiValueHeaders"]["Content-Length"] = [str(len(body))]
    assert "/documents/uploads" in reject(ev, 413, "too_large")["message"]


@pytest.mark.parametrize("path", JSON_ROUTES)
@pytest.mark.parametrize("body", ['{"query": "x",}', "{'query': 'x'}", '{"query": "x"} trailing', "{"])
def test_malformed_json_is_400_on_every_json_route(path: str, body: str, reject: Reject) -> None:
    reject(event("POST", path, body), 400, "invalid_json")


@pytest.mark.parametrize("path", JSON_ROUTES)
@pytest.mark.parametrize("body", ["", "null", "[]", '"a question"', "42"])
def test_json_that_is_not_an_object_is_422_on_every_json_route(path: str, body: str, reject: Reject) -> None:
    assert invalid_fields(reject, event("POST", path, body)) == ["body"]


@pytest.mark.parametrize("path", ["/chat", "/documents/uploads"])
@pytest.mark.parametrize(
    "content_type", [None, "text/plain", "application/jsonx", "multipart/form-data; boundary=x"]
)
def test_a_json_route_refuses_other_content_types_with_415(
    path: str, content_type: str | None, reject: Reject
) -> None:
    ev = event("POST", path, '{"query": "q", "filename": "a.txt"}', content_type)
    reject(ev, 415, "unsupported_media_type")


@pytest.mark.parametrize(
    "method, path, code",
    [
        ("POST", f"/jobs/{JOB_ID}/cancel", "job_not_found"),
        ("DELETE", "/documents/nope", "document_not_found"),
        ("GET", "/no-such-route", "not_found"),
    ],
)
def test_unknown_things_are_404(method: str, path: str, code: str, reject: Reject) -> None:
    reject(event(method, path, content_type=None), 404, code)


def test_completing_an_unknown_upload_is_404(reject: Reject) -> None:
    ev = event("POST", f"/documents/uploads/{JOB_ID}/complete", content_type=None)
    assert "no upload" in reject(ev, 404, "upload_not_found")["message"]


@pytest.mark.parametrize("method, route", JOB_ROUTES)
@pytest.mark.parametrize("bad_id", BAD_JOB_IDS)
def test_a_malformed_job_id_is_422_on_every_job_route(
    method: str, route: str, bad_id: str, reject: Reject
) -> None:
    fields = invalid_fields(reject, event(method, route.format(bad_id), content_type=None))
    assert fields == ["path.upload_id" if "uploads" in route else "path.job_id"]


@pytest.mark.parametrize("method", ["GET", "DELETE"])
@pytest.mark.parametrize("bad_id", [".hidden", "a" * 129, "a b", "é", "a\x00"])
def test_a_malformed_document_id_is_422(method: str, bad_id: str, reject: Reject) -> None:
    ev = event(method, f"/documents/{bad_id}", content_type=None)
    assert invalid_fields(reject, ev) == ["path.document_id"]


@pytest.mark.parametrize("query", ["nul\x00byte", "\x1b[31mred", "del\x7f", "next\x85line", "csi\x9b"])
def test_control_characters_in_a_query_are_422(query: str, reject: Reject) -> None:
    assert invalid_fields(reject, chat_event({"query": query})) == ["query"]


@pytest.mark.parametrize(
    "path, payload, field",
    [
        ("/documents", {"text": "x", "title": "nul\x00"}, "title"),
        ("/documents", {"text": "x", "source": "esc\x1b"}, "source"),
        ("/documents/uploads", {"filename": "a\x00.txt"}, "filename"),
    ],
)
def test_control_characters_in_document_fields_are_422(
    path: str, payload: dict[str, str], field: str, reject: Reject
) -> None:
    assert invalid_fields(reject, event("POST", path, json.dumps(payload))) == [field]


@pytest.mark.parametrize(
    "path, body",
    [
        ("/chat", b'{"query": "caf\xe9"}'),
        ("/documents", b'{"text": "\xff\xfe"}'),
        ("/documents/uploads", b'{"filename": "\xc3(.txt"}'),
    ],
)
def test_a_json_body_that_is_not_utf8_is_400(path: str, body: bytes, reject: Reject) -> None:
    reject(event("POST", path, body), 400, "invalid_json")


@pytest.mark.parametrize(
    "path, body, field",
    [
        ("/chat", '{"query": "\\ud800"}', "query"),
        ("/documents/uploads", '{"filename": "\\udfff.txt"}', "filename"),
        ("/documents/uploads", '{"filename": "a.txt", "title": "\\ud800"}', "title"),
        ("/documents/uploads", '{"filename": "a.txt", "metadata": {"k": "\\ud800"}}', "metadata"),
        ("/documents/uploads", '{"filename": "a.txt", "metadata": {"k": NaN}}', "metadata"),
    ],
)
def test_a_lone_surrogate_or_nan_is_422(path: str, body: str, field: str, reject: Reject) -> None:
    # JSON allows the escape of a lone surrogate, and Python's parser takes NaN: neither is data.
    assert invalid_fields(reject, event("POST", path, body)) == [field]


@pytest.mark.parametrize(
    "payload, field",
    [
        ({"query": "q", "top_k": 1000}, "top_k"),
        ({"query": "q", "top_k": -1}, "top_k"),
        ({"query": "q", "top_k": 2.5}, "top_k"),
        ({"query": "q", "top_k": True}, "top_k"),
        ({"query": "q", "top_k": "5"}, "top_k"),
        ({"query": "q", "top_k": None}, "top_k"),
        ({"query": "q", "mode": "semantic"}, "mode"),
        ({"query": "q", "mode": "HYBRID"}, "mode"),
        ({"query": "q", "mode": ""}, "mode"),
        ({"query": 42}, "query"),
        ({"query": ["q"]}, "query"),
        ({"query": None}, "query"),
    ],
)
def test_out_of_range_or_mistyped_chat_fields_are_422(
    payload: dict[str, Any], field: str, reject: Reject
) -> None:
    assert invalid_fields(reject, chat_event(payload)) == [field]


@pytest.mark.parametrize(
    "params, field",
    [
        ({"offset": "-1"}, "query.offset"),
        ({"offset": "9223372036854775808"}, "query.offset"),
        ({"offset": "x"}, "query.offset"),
        ({"limit": "0"}, "query.limit"),
        ({"limit": "201"}, "query.limit"),
        ({"limit": "1e3"}, "query.limit"),
        ({"collection": "../etc"}, "query.collection"),
        ({"collection": ""}, "query.collection"),
    ],
)
def test_list_paging_out_of_range_is_422(params: dict[str, str], field: str, reject: Reject) -> None:
    assert invalid_fields(reject, event("GET", "/documents", content_type=None, query=params)) == [field]


@pytest.mark.parametrize(
    "path, payload, field",
    [
        ("/documents/uploads", {"filename": "a.txt", "colection": "typo"}, "colection"),
        ("/documents/uploads", {"filename": "a" * 252 + ".txt"}, "filename"),
        ("/documents", {"text": "x", "title": "t" * 501}, "title"),
        ("/documents", {"text": "x", "metadata": {"k": "v" * 4001}}, "metadata"),
        ("/documents", {"text": " \n\t "}, "text"),
    ],
)
def test_unknown_or_oversized_document_fields_are_422(
    path: str, payload: dict[str, Any], field: str, reject: Reject
) -> None:
    assert invalid_fields(reject, event("POST", path, json.dumps(payload))) == [field]


@pytest.mark.parametrize(
    "fields, file, field",
    [
        ({"colour": "red"}, A_FILE, "colour"),
        ({"title": "nul\x00"}, A_FILE, "title"),
        ({"metadata": '{"k": Infinity}'}, A_FILE, "metadata"),
        ({}, None, "file"),
    ],
)
def test_bad_form_fields_are_422(
    fields: dict[str, str], file: tuple[str, bytes, str] | None, field: str, reject: Reject
) -> None:
    assert invalid_fields(reject, event("POST", "/documents", *multipart(fields, file))) == [field]


def test_a_form_field_given_twice_is_422(reject: Reject) -> None:
    first, _ = multipart({"collection": "a"}, file=None)
    second, content_type = multipart({"collection": "b"})
    body = first.rsplit(b"--b0undary--", 1)[0] + second
    assert invalid_fields(reject, event("POST", "/documents", body, content_type)) == ["collection"]


def test_a_file_of_only_whitespace_is_422(reject: Reject) -> None:
    ev = event("POST", "/documents", *multipart({}, ("a.txt", b" \r\n\t ", "text/plain")))
    assert "empty" in reject(ev, 422, "invalid_document")["message"]


@pytest.mark.parametrize(
    "method, path, allowed", [("PUT", "/chat", "POST"), ("PATCH", "/documents/d1", "DELETE, GET")]
)
def test_a_wrong_method_is_405_naming_the_allowed_ones(method: str, path: str, allowed: str) -> None:
    status, body, headers = call(event(method, path, content_type=None))
    assert status == 405 and body["error"]["code"] == "method_not_allowed"
    assert headers["allow"] == allowed


BEYOND_INT64 = str(2**63)
TOO_DEEP = '{"k": [[[[[1]]]]]}'  # six containers: one more than MAX_METADATA_DEPTH


@pytest.mark.parametrize(
    "path, body",
    [
        ("/documents", '{"text": "x", "metadata": {"n": 1%s}}' % ("0" * 1200)),
        ("/documents", '{"text": "x", "metadata": {"n": %s}}' % BEYOND_INT64),
        ("/documents", '{"text": "x", "metadata": {"n": %d}}' % (-(2**63) - 1)),
        ("/documents", '{"text": "x", "metadata": %s}' % TOO_DEEP),
        ("/documents/uploads", '{"filename": "a.txt", "metadata": {"n": [%s]}}' % BEYOND_INT64),
    ],
)
def test_metadata_the_index_cannot_store_is_422(path: str, body: str, reject: Reject) -> None:
    # Before, 10**1200 was accepted and its job failed with "internal error (TypeError)".
    assert invalid_fields(reject, event("POST", path, body)) == ["metadata"]


@pytest.mark.parametrize(
    "metadata", ['{"n": %s}' % BEYOND_INT64, TOO_DEEP, "[" * 100_000, '{"n": 1%s}' % ("0" * 5000)]
)
def test_metadata_form_fields_the_index_or_the_parser_cannot_take_are_422(
    metadata: str, reject: Reject
) -> None:
    # The last two raised RecursionError and ValueError (int digits) in json.loads: a 500.
    ev = event("POST", "/documents", *multipart({"metadata": metadata}))
    assert invalid_fields(reject, ev) == ["metadata"]


@pytest.mark.parametrize("text", ["nul\x00byte", "esc\x1b[31m", "c1\x85"])
def test_control_characters_in_a_json_document_text_are_422(text: str, reject: Reject) -> None:
    assert invalid_fields(reject, event("POST", "/documents", json.dumps({"text": text}))) == ["text"]

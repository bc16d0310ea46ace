"""Property-based requests from the API's own OpenAPI document (schemathesis), valid and
invalid, against the app in process with real Valkey, SQS and S3 behind it: no request may
get a 5xx, every error must be the API's JSON error, and every response must match what the
document declares (status, content type, body schema, ``Allow`` on a 405, ...). Auth is on:
requests carry a real key, and schemathesis' own check sends wrong ones and expects 401."""

from __future__ import annotations

import json
import uuid

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from rag_api.app import app
from rag_api.idempotency import HEADER, InvalidKey, parse_key
from ragcore.bootstrap import get_container
from ragcore.services.auth import create_key
from tests.support.settings import Configure

# What the schema cannot say: which file types are read (a part's type or the name's suffix
# decides: 415 otherwise), and that a file of only whitespace has no text (422). And for a
# multipart body schemathesis judges a negation "as sent" with the file part still in its
# generated form, so a negation that sends nothing (an empty list) looks accepted: bad document
# fields are asserted explicitly in test_documents.py and test_bad_input.py instead.
_CONFIG = schemathesis.Config.from_dict({
    "operations": [
        {
            "include-name": "POST /chat",
            "checks": {
                # 422: a filter the schema allows but the rules refuse (one condition per field,
                # a range's bounds of one kind and not empty, 1-100 values in `any`, field
                # names Qdrant reads as plain keys); each rule is asserted in test_filters.py.
                "positive_data_acceptance": {"expected-statuses": ["2xx", "404", "409", "422", "429"]},
            },
        },
        {
            # Its questions are POST /chat's: the same filters the schema allows and the rules
            # refuse, and a batch none of whose questions is queued answers as POST /chat would.
            # A batch with an invalid question among valid ones is a 202 by design (each question
            # is judged alone, the invalid one refused in its item): per-item errors are asserted
            # in test_batch_api.py, so the negative-data check, which expects the whole request
            # refused, does not apply.
            "include-name": "POST /chat/batch",
            "checks": {"positive_data_acceptance": {"expected-statuses": ["2xx", "404", "409", "422", "429"]},
                       "negative_data_rejection": {"enabled": False}},
        },
        {
            "include-name": "POST /documents",
            "checks": {
                "positive_data_acceptance": {"expected-statuses": ["2xx", "404", "409", "415", "422"]},
                "negative_data_rejection": {"enabled": False},
            },
        },
        {
            "include-name": "POST /documents/uploads",
            "checks": {
                # 422: metadata the index cannot store (an integer beyond int64, more than 5
                # levels of nesting), which `metadata`'s schema (any JSON object) does not say;
                # asserted field by field in test_bad_input.py.
                "positive_data_acceptance": {"expected-statuses": ["2xx", "404", "409", "415", "422"]},
                # /documents/uploads is also /documents/{document_id} with the id "uploads", so
                # its Allow rightly names GET and DELETE too, which this template does not.
                "allow_header_conformance": {"enabled": False},
            },
        },
    ],
})

schema = schemathesis.openapi.from_asgi("/openapi.json", app, config=_CONFIG)


@pytest.fixture
def auth(configure: Configure) -> dict[str, str]:
    container = configure(auth_disabled=False)
    # Limits high enough never to refuse the fuzzer: rate limiting has its own tests.
    _, secret = create_key(container.key_store, container.api_key_pepper, "fuzz",
                           rate_per_second=10_000, burst=100_000)
    return {"Authorization": f"Bearer {secret}"}


@schema.parametrize()
# Bounded and reproducible: the same ~1400 requests on every run, about 30 s in all. The
# environment (a fresh queue) is set up once per operation, not per example, as intended.
@settings(max_examples=100, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
def test_no_request_gets_a_server_error_and_errors_are_json(
    case: schemathesis.Case, auth: dict[str, str]
) -> None:
    _own_idempotency_key(case)
    response = case.call(headers=auth)
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert response.headers["content-type"] == ["application/json"], response.headers
        error = json.loads(response.text)["error"]
        assert isinstance(error["code"], str) and error["code"] and isinstance(error["message"], str)
    case.validate_response(response)


def _own_idempotency_key(case: schemathesis.Case) -> None:
    """A new key for each case that sends a valid one: the fuzzer draws the same few keys for
    different bodies, which is a 422 by design (tests/integration/test_idempotency.py). An
    invalid key is left as drawn, to be refused."""
    headers = case.headers or {}
    if HEADER in headers:
        try:
            parse_key([headers[HEADER]])
        except InvalidKey:
            return
        headers[HEADER] = str(uuid.uuid4())

"""``POST /chat``'s ``filter`` through the API Lambda handler with real Valkey and SQS: each
kind of mistake is a 422 naming the field, with nothing left behind (no job, no message); a
valid filter is queued with the job, as its client wrote it. Every rule is tested in
tests/unit/test_filters.py; here, that the API answers them as it answers any bad field."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ragcore.bootstrap import get_container
from tests.integration.test_api_handler import call, chat_event
from tests.integration.test_bad_input import Reject, api_env, invalid_fields, reject  # noqa: F401  (fixtures)

MISTAKES = [
    ({"metadata": {"lang": {"like": "en"}}}, "filter.metadata.lang.like"),  # an operator that does not exist
    ({"metadata": {"lang": {"eq": "en", "any": ["fr"]}}}, "filter.metadata.lang"),  # two conditions
    ({"metadata": {"year": {"gte": 1800, "lt": "2024-01-01"}}}, "filter.metadata.year"),  # number and date
    ({"metadata": {"published": {"gte": "2024-02-30"}}}, "filter.metadata.published.gte"),  # no such date
    ({"metadata": {"tags": {"any": []}}}, "filter.metadata.tags.any"),
    ({"document_ids": []}, "filter.document_ids"),
    ({"metadata": {}}, "filter.metadata"),
    ({"metadata": {"a b": {"eq": 1}}}, "filter.metadata.a b.[key]"),  # a name Qdrant would misread
    ({"documents": ["north"]}, "filter.documents"),  # an unknown key
    ({}, "filter"),
]


@pytest.mark.parametrize(("chat_filter", "field"), MISTAKES, ids=[field for _, field in MISTAKES])
def test_a_bad_filter_is_422_naming_the_field(
    chat_filter: dict[str, Any], field: str, reject: Reject
) -> None:
    assert invalid_fields(reject, chat_event({"query": "q", "filter": chat_filter})) == [field]


def test_a_valid_filter_is_kept_with_the_job(api_env: dict[str, str], sqs: Any) -> None:
    chat_filter = {"document_ids": ["north"], "metadata": {
        "lang": {"eq": "en"}, "draft": {"eq": False}, "tags": {"any": ["x"]},
        "year": {"gte": 1850, "lt": 1900}, "published": {"gte": "2024-01-01"}}}
    status, body, _ = call(chat_event({"query": "q", "filter": chat_filter}))
    assert status == 202, body
    # The message is taken off the queue, which the module's other tests check stays empty.
    (message,) = sqs.receive_message(QueueUrl=api_env["JOBS_QUEUE_URL"], WaitTimeSeconds=1)["Messages"]
    sqs.delete_message(QueueUrl=api_env["JOBS_QUEUE_URL"], ReceiptHandle=message["ReceiptHandle"])
    assert json.loads(message["Body"])["job_id"] == body["job_id"]
    stored = json.loads(json.dumps(get_container().job_store.get(body["job_id"]).request))["filter"]
    as_written = {"year": {"gte": 1850.0, "lt": 1900.0}, "published": {"gte": "2024-01-01T00:00:00Z"}}
    assert stored == {**chat_filter, "metadata": {**chat_filter["metadata"], **as_written}}

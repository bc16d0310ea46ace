"""Secrets never reach logs, errors, job records or results, even when an endpoint echoes them
back: the OpenAI key through the worker, an API key through the API."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from ragcore.bootstrap import get_container
from ragcore.domain.jobs import JobStatus
from ragcore.services.auth import create_key
from ragcore.services.ingest import index_files
from tests.integration.test_api_handler import call, chat_event
from tests.integration.test_worker_handler import batch, message, queued_job, run
from tests.support.fake_llm import FakeLLM, Reply
from tests.support.logs import captured_json_logs
from tests.support.paths import SAMPLES
from tests.support.settings import Configure

OPENAI_KEY = "sk-test-0123456789-must-never-leak"


@pytest.fixture
def secret_env(configure: Configure) -> None:
    configure(openai_api_key=OPENAI_KEY, auth_disabled=False)


def everything_stored() -> str:
    client = get_container().job_store._client
    return json.dumps({k: client.hgetall(k) for k in client.keys("ragcore:job:*")})


@pytest.mark.usefixtures("secret_env")
def test_the_llm_key_is_never_logged_or_stored(
    fake_llm: FakeLLM, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)
    container = get_container()
    index_files([SAMPLES], "default", container.embedder, container.vector_index)
    fake_llm.script = [Reply(status=500, echo_credentials=True), Reply(status=401, echo_credentials=True)]
    job_id = queued_job()
    with captured_json_logs() as json_logs:  # the handlers' JSON lines (ids, outcome, reasons)
        assert run(batch(message(job_id))) == {"batchItemFailures": []}
    job = container.job_store.get(job_id)
    assert job.status is JobStatus.FAILED
    assert job.error == "the LLM endpoint rejected the service's credentials (HTTP 401)"
    assert fake_llm.calls == 2  # the endpoint did see the key, and echoed it twice
    out, err = capfd.readouterr()  # stdout holds the EMF metric documents too
    assert '"job processed"' in json_logs.getvalue()
    for text in (caplog.text, out, err, everything_stored(), json_logs.getvalue()):
        assert OPENAI_KEY not in text


@pytest.mark.usefixtures("secret_env")
def test_api_keys_are_never_logged_or_stored(
    caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)
    container = get_container()
    _, secret = create_key(container.key_store, container.api_key_pepper, "app")
    accepted = chat_event({"query": "When was Skerry Point Lighthouse first lit?"})
    accepted["headers"]["Authorization"] = f"Bearer {secret}"
    refused = chat_event({"query": "q"})
    refused["headers"]["x-api-key"] = secret[:-3] + "xyz"
    with captured_json_logs() as json_logs:  # a line per request: method, route, status, ids
        status, body, _ = call(accepted)
        assert status == 202
        assert call(refused)[0] == 401
    out, err = capfd.readouterr()
    assert json_logs.getvalue().count('"message":"request"') == 2
    stored: Any = everything_stored() + json.dumps(body)
    for text in (caplog.text, out, err, stored, json_logs.getvalue()):
        assert secret not in text and secret[:-3] not in text

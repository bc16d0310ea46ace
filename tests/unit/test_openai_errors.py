"""How the OpenAI adapter sorts endpoint failures: retry later, or fail the job now."""

from __future__ import annotations

import httpx
import openai
import pytest

from ragcore.adapters.openai_chat import OpenAIChatModel
from ragcore.domain.errors import AnswerGenerationError, DependencyUnavailableError


def model_answering(status: int, body: dict, headers: dict[str, str] | None = None) -> OpenAIChatModel:
    transport = httpx.MockTransport(lambda request: httpx.Response(status, json=body, headers=headers))
    client = openai.OpenAI(api_key="k", base_url="http://llm.invalid/v1", max_retries=0,
                           http_client=httpx.Client(transport=transport))
    return OpenAIChatModel(client, "m", max_tokens=16, temperature=0, timeout=5)


def error(code: str | None) -> dict:
    return {"error": {"message": "prompt text that must not leak", "type": "x", "code": code}}


@pytest.mark.parametrize(("status", "headers", "retry_after"), [
    (429, {"retry-after": "7"}, 7.0),
    (429, {"retry-after-ms": "1500"}, 1.5),
    (500, {}, None), (502, {}, None), (503, {"retry-after": "2"}, 2.0), (408, {}, None), (409, {}, None),
])
def test_throttling_and_server_errors_are_transient(status: int, headers: dict, retry_after: float | None) -> None:
    with pytest.raises(DependencyUnavailableError) as caught:
        model_answering(status, error(None), headers).complete([{"role": "user", "content": "q"}])
    assert caught.value.retry_after == retry_after
    assert "prompt text" not in str(caught.value)


@pytest.mark.parametrize(("status", "code", "reason"), [
    (400, "context_length_exceeded", "do not fit the model's context window"),
    (400, "content_policy_violation", "refused the request (content policy)"),
    (401, None, "rejected the service's credentials (HTTP 401)"),
    (403, None, "rejected the service's credentials (HTTP 403)"),
    (429, "insufficient_quota", "out of quota"),
    (404, "model_not_found", "rejected the request (HTTP 404)"),
])
def test_requests_no_retry_can_fix_fail_the_job(status: int, code: str | None, reason: str) -> None:
    with pytest.raises(AnswerGenerationError, match=reason.replace("(", r"\(").replace(")", r"\)")) as caught:
        model_answering(status, error(code)).complete([{"role": "user", "content": "q"}])
    assert "prompt text" not in str(caught.value)


def test_a_filtered_answer_fails_the_job() -> None:
    body = {"id": "c", "object": "chat.completion", "created": 0, "model": "m",
            "choices": [{"index": 0, "finish_reason": "content_filter",
                         "message": {"role": "assistant", "content": ""}}]}
    with pytest.raises(AnswerGenerationError, match="content filter"):
        model_answering(200, body).complete([{"role": "user", "content": "q"}])

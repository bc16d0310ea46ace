"""The OpenAI adapter's streamed answers over real HTTP (the fake streaming LLM): the text as
it comes, usage reported or estimated, failures before and during the stream sorted as
``complete`` sorts them, and a stream that stalls given up within its time."""

from __future__ import annotations

import time
from typing import Iterator

import openai
import pytest

from ragcore.adapters.openai_chat import OpenAIChatModel
from ragcore.domain.answers import Usage
from ragcore.domain.errors import AnswerGenerationError, DependencyUnavailableError
from tests.support.fake_llm import USAGE, FakeLLM, Reply

QUESTION = [{"role": "user", "content": "When was Skerry Point first lit? " * 4}]


@pytest.fixture
def llm() -> Iterator[FakeLLM]:
    with FakeLLM(answer="It was first lit in 1874 [1].", token_delay=0.01) as fake:
        yield fake


def model(llm: FakeLLM, timeout: float = 10) -> OpenAIChatModel:
    client = openai.OpenAI(api_key="k", base_url=llm.base_url, max_retries=0)
    return OpenAIChatModel(client, "m", max_tokens=64, temperature=0, timeout=timeout)


def test_the_text_is_handed_on_as_it_comes_and_the_usage_is_the_servers() -> None:
    with FakeLLM(answer="It was first lit in 1874 [1].", token_delay=0.05) as llm:
        seen: list[tuple[float, str]] = []
        completion = model(llm).stream(QUESTION, lambda text: seen.append((time.monotonic(), text)))
    assert [text for _, text in seen] == ["It ", "It was ", "It was first ", "It was first lit ",
                                          "It was first lit in ", "It was first lit in 1874 ",
                                          "It was first lit in 1874 [1]."]
    assert seen[-1][0] - seen[0][0] >= 0.25  # as the words came, not all at the end
    assert completion.text == "It was first lit in 1874 [1]." and completion.model == "m"
    assert completion.usage == Usage(**USAGE)
    sent = llm.requests[-1]
    assert sent["stream"] is True and sent["stream_options"] == {"include_usage": True}


def test_a_server_that_streams_without_usage_has_it_estimated(llm: FakeLLM) -> None:
    llm.stream_usage = False  # llama-cpp-python's server
    completion = model(llm).stream(QUESTION, lambda text: None)
    prompt = len(QUESTION[0]["content"]) // 4
    assert completion.usage == Usage(prompt_tokens=prompt, completion_tokens=7, total_tokens=prompt + 7)


@pytest.mark.parametrize(("reply", "reason"), [
    (Reply(status=503), "HTTP 503"),
    (Reply(status=429, headers={"retry-after": "3"}), "rate limited"),
    (Reply(fail_after=3), "the stream broke off"),
    (Reply(fail_after=3, drop=True), "the stream ended before the answer did"),
])
def test_failures_before_and_during_the_stream_are_transient(llm: FakeLLM, reply: Reply, reason: str) -> None:
    llm.script = [reply]
    seen: list[str] = []
    with pytest.raises(DependencyUnavailableError, match=reason):
        model(llm).stream(QUESTION, seen.append)
    assert seen == ([] if reply.fail_after is None else ["It ", "It was ", "It was first "])


def test_requests_no_retry_can_fix_fail_the_job_before_or_during_the_stream(llm: FakeLLM) -> None:
    llm.script = [Reply(status=400, code="context_length_exceeded")]
    with pytest.raises(AnswerGenerationError, match="context window"):
        model(llm).stream(QUESTION, lambda text: None)
    llm.script = [Reply(fail_after=2, code="content_filter")]
    with pytest.raises(AnswerGenerationError, match="content_filter"):
        model(llm).stream(QUESTION, lambda text: None)


def test_a_stream_that_stalls_is_given_up_at_its_timeout(llm: FakeLLM) -> None:
    llm.script = [Reply(token_delay=5)]
    seen: list[str] = []
    started = time.monotonic()
    with pytest.raises(DependencyUnavailableError, match="no whole answer within 0.5 s"):
        model(llm).stream(QUESTION, seen.append, timeout=0.5)
    assert 0.45 < time.monotonic() - started < 1.5
    assert seen == ["It "]
    # A stream that trickles within its time is read whole.
    llm.script = [Reply(token_delay=0.05)]
    assert model(llm).stream(QUESTION, lambda text: None, timeout=2).text == "It was first lit in 1874 [1]."

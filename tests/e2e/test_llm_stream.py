"""The OpenAI adapter streaming from the bundled model's server (llama-cpp-python, as the
offline stack runs it): the same answer as a whole call, each piece as it comes, and usage
(which this server leaves out of its streams) estimated close to what it reports for a whole
call."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Iterator

import openai
import pytest

from ragcore.adapters.openai_chat import OpenAIChatModel
from ragcore.local.processes import LOCAL_LLM_ALIAS, LlmService
from tests.support.paths import ROOT, free_port

MESSAGES = [
    {"role": "system", "content": "Answer from the passage in one sentence."},
    {"role": "user", "content": "Passage: Skerry Point Lighthouse was first lit on 12 October 1874.\n"
                                "Question: When was Skerry Point Lighthouse first lit?"},
]


@pytest.fixture(scope="module")
def llm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OpenAIChatModel]:
    service = LlmService(ROOT / ".venv-llm/bin/python", "127.0.0.1", free_port(), 2,
                         Path(tmp_path_factory.mktemp("llm")))
    service.start()
    try:
        service.wait_ready()
        client = openai.OpenAI(api_key="local", base_url=service.base_url, max_retries=0)
        yield OpenAIChatModel(client, LOCAL_LLM_ALIAS, max_tokens=40, temperature=0, timeout=60)
    finally:
        service.stop()


def test_the_bundled_models_server_streams_the_answer_a_whole_call_gives(llm: OpenAIChatModel) -> None:
    whole = llm.complete(MESSAGES)
    pieces: list[tuple[float, str]] = []
    streamed = llm.stream(MESSAGES, lambda text: pieces.append((time.monotonic(), text)))
    assert streamed.text == whole.text and "1874" in streamed.text
    assert len(pieces) >= 3 and pieces[-1][0] > pieces[0][0]  # piece by piece
    assert all(later.startswith(earlier) for (_, earlier), (_, later) in zip(pieces, pieces[1:]))
    # No usage in the stream: one token a piece, and the prompt at 4 bytes a token, within 2x.
    assert streamed.usage.completion_tokens == whole.usage.completion_tokens
    assert whole.usage.prompt_tokens / 2 <= streamed.usage.prompt_tokens <= whole.usage.prompt_tokens * 2

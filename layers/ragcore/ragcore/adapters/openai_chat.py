"""Chat completions through the ``openai`` SDK: OpenAI itself or any compatible server
(the local llama.cpp server offline), whole or streamed."""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from typing import Any, Callable, Iterator

import openai

from ragcore.domain.answers import Completion, Usage
from ragcore.domain.errors import AnswerGenerationError, DependencyUnavailableError

# Codes OpenAI (and compatible servers) put in a 4xx body for requests no retry can fix.
_CONTEXT_TOO_LONG = {"context_length_exceeded", "string_above_max_length"}
_REFUSED = {"content_filter", "content_policy_violation"}
# A server that streams without usage (llama-cpp-python's does): prompt tokens are estimated
# at OpenAI's rule of thumb, completion tokens counted as the stream's pieces (one each there).
_BYTES_PER_TOKEN = 4


class OpenAIChatModel:
    """Implements ``ports.ChatModel``, sorting failures into transient (429, 5xx, timeouts,
    connection errors, a stream that breaks off: ``DependencyUnavailableError``, retried by the
    job runner within the invocation's budget) and permanent (context too long, content
    refused, bad credentials: ``AnswerGenerationError``, which fails the job at once). Build the
    client with ``max_retries=0``: one retry policy, the runner's, knows how much time is left."""

    def __init__(
        self, client: openai.OpenAI, model: str, max_tokens: int, temperature: float, timeout: float
    ) -> None:
        self._client = client
        self._model = model
        self._max_tokens = max_tokens
        self._temperature = temperature
        self._timeout = timeout

    def _limit(self, timeout: float | None) -> float:
        return self._timeout if timeout is None else max(0.1, min(self._timeout, timeout))

    def _request(self, messages: list[dict[str, str]]) -> dict[str, Any]:
        """What a call asks for, whole or streamed: one place, so the two never differ."""
        return {"model": self._model, "messages": messages, "max_tokens": self._max_tokens,
                "temperature": self._temperature}

    def complete(self, messages: list[dict[str, str]], timeout: float | None = None) -> Completion:
        limit = self._limit(timeout)
        with _classified(limit):
            response = self._client.chat.completions.create(**self._request(messages), timeout=limit)
        usage = response.usage
        choice = response.choices[0] if response.choices else None
        return _checked(
            response.model or self._model,
            Usage(
                prompt_tokens=usage.prompt_tokens if usage else 0,
                completion_tokens=usage.completion_tokens if usage else 0,
                total_tokens=usage.total_tokens if usage else 0,
            ),
            choice.finish_reason if choice else None,
            (choice.message.content or "") if choice else "",
        )

    def stream(self, messages: list[dict[str, str]], on_text: Callable[[str], None],
               timeout: float | None = None) -> Completion:
        """The stream is read, and ``on_text`` called, in a thread of its own, so a stream that
        stalls is given up at ``timeout`` after the call began (the socket's read timeout alone
        would allow that much again after every piece); ``on_text`` may be called once more
        after that, which the caller ignores (``services/partial_answers.py``).

        Its chunks arrive as plain dicts, through the SDK's raw request (``client.post``, its
        documented way to an endpoint's untyped body, with the same SSE decoding, error events
        and exceptions): building a typed model per chunk cost as much CPU as the rest of the
        call (``bench/llm_call_cpu.py``)."""
        limit = self._limit(timeout)
        deadline = time.monotonic() + limit
        body = {**self._request(messages), "stream": True, "stream_options": {"include_usage": True}}
        with _classified(limit):
            chunks = self._client.post("/chat/completions", body=body, cast_to=object, options={"timeout": limit},
                                       stream=True, stream_cls=openai.Stream[dict[str, Any]])
            read = _Read(self._model, on_text)
            read.within(chunks, deadline, limit)
        if read.finish is None:
            raise DependencyUnavailableError("llm", "the stream ended before the answer did")
        if read.usage is None:
            prompt = sum(len(m["content"].encode()) for m in messages) // _BYTES_PER_TOKEN
            usage = Usage(prompt_tokens=prompt, completion_tokens=read.pieces, total_tokens=prompt + read.pieces)
        else:
            usage = Usage(prompt_tokens=read.usage.get("prompt_tokens") or 0,
                          completion_tokens=read.usage.get("completion_tokens") or 0,
                          total_tokens=read.usage.get("total_tokens") or 0)
        return _checked(read.model, usage, read.finish, read.text)


class _Read:
    """One stream's chunks, taken in order: its text so far, finish reason, usage and model."""

    def __init__(self, model: str, on_text: Callable[[str], None]) -> None:
        self.model, self._on_text = model, on_text
        self.text, self.pieces = "", 0
        self.finish: str | None = None
        self.usage: dict[str, Any] | None = None
        self._error: BaseException | None = None

    def take(self, chunk: dict[str, Any]) -> None:
        self.model = chunk.get("model") or self.model
        self.usage = chunk.get("usage") or self.usage
        for choice in (chunk.get("choices") or [])[:1]:
            self.finish = choice.get("finish_reason") or self.finish
            piece = (choice.get("delta") or {}).get("content")
            if piece:
                self.text, self.pieces = self.text + piece, self.pieces + 1
                self._on_text(self.text)

    def within(self, chunks: Any, deadline: float, limit: float) -> None:
        """Reads ``chunks`` to their end in a daemon thread and waits for it until ``deadline``;
        past it the stream is closed and given up (the thread ends at its next piece or its
        read timeout). The whole read is the thread's, not a hand-off per piece: one wake-up
        a call (``bench/llm_call_cpu.py``)."""
        ended, given_up = threading.Event(), threading.Event()

        def read() -> None:
            try:
                for chunk in chunks:
                    if given_up.is_set():
                        return
                    self.take(chunk)
            except BaseException as exc:  # noqa: BLE001 - raised again in the caller's thread
                self._error = exc
            finally:
                ended.set()

        threading.Thread(target=read, name="llm-stream", daemon=True).start()
        if not ended.wait(max(0.0, deadline - time.monotonic())):
            given_up.set()
            chunks.close()
            raise DependencyUnavailableError("llm", f"no whole answer within {limit:.1f} s")
        if self._error is not None:
            raise self._error


def _checked(model: str, usage: Usage, finish_reason: str | None, text: str) -> Completion:
    """The completion, unless its answer is unusable: the call completed and its tokens were
    billed, so ``spent`` lets them be counted."""
    completion = Completion(text="", model=model, usage=usage)
    if finish_reason == "content_filter":
        raise AnswerGenerationError("the LLM provider withheld the answer (content filter)", spent=completion)
    if not text.strip():
        raise AnswerGenerationError("LLM returned an empty answer", spent=completion)
    return completion.model_copy(update={"text": text.strip()})


@contextmanager
def _classified(limit: float) -> Iterator[None]:
    """The SDK's errors as the job runner's: before a stream or during it."""
    try:
        yield
    except openai.APITimeoutError as exc:
        raise DependencyUnavailableError("llm", f"no answer within {limit:.1f} s") from exc
    except openai.APIConnectionError as exc:
        raise DependencyUnavailableError("llm", type(exc).__name__) from exc
    except openai.APIStatusError as exc:
        raise _classify(exc) from exc
    except openai.APIError as exc:  # an error event in a stream that had begun
        code = exc.code or ""
        if code in _CONTEXT_TOO_LONG | _REFUSED:
            raise AnswerGenerationError(f"the LLM stopped its answer ({code})") from exc
        raise DependencyUnavailableError("llm", "the stream broke off with an error") from exc


def _classify(exc: openai.APIStatusError) -> Exception:
    """Status and error code only: the body may echo the prompt."""
    status, code = exc.status_code, exc.code or ""
    if status == 429 and code != "insufficient_quota":
        return DependencyUnavailableError("llm", "rate limited (HTTP 429)", _retry_after(exc))
    if status >= 500 or status in (408, 409):
        return DependencyUnavailableError("llm", f"HTTP {status}", _retry_after(exc))
    if code in _CONTEXT_TOO_LONG:
        return AnswerGenerationError("the question and its passages do not fit the model's context window")
    if code in _REFUSED:
        return AnswerGenerationError("the LLM provider refused the request (content policy)")
    if status in (401, 403):
        return AnswerGenerationError(f"the LLM endpoint rejected the service's credentials (HTTP {status})")
    if code == "insufficient_quota":
        return AnswerGenerationError("the LLM account is out of quota")
    return AnswerGenerationError(f"the LLM endpoint rejected the request (HTTP {status})")


def _retry_after(exc: openai.APIStatusError) -> float | None:
    """Seconds from ``retry-after-ms`` or ``retry-after``; an HTTP-date is rare here and
    left to the backoff."""
    for header, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        try:
            return float(exc.response.headers[header]) * scale
        except (KeyError, ValueError):
            continue
    return None

"""Chat completions through the ``openai`` SDK: OpenAI itself or any compatible server
(the local llama.cpp server offline)."""

from __future__ import annotations

import openai

from ragcore.domain.answers import Completion, Usage
from ragcore.domain.errors import AnswerGenerationError, DependencyUnavailableError

# Codes OpenAI (and compatible servers) put in a 4xx body for requests no retry can fix.
_CONTEXT_TOO_LONG = {"context_length_exceeded", "string_above_max_length"}
_REFUSED = {"content_filter", "content_policy_violation"}


class OpenAIChatModel:
    """Implements ``ports.ChatModel``, sorting failures into transient (429, 5xx, timeouts,
    connection errors: ``DependencyUnavailableError``, retried by the job runner within the
    invocation's budget) and permanent (context too long, content refused, bad credentials:
    ``AnswerGenerationError``, which fails the job at once). Build the client with
    ``max_retries=0``: one retry policy, the runner's, knows how much time is left."""

    def __init__(
        self, client: openai.OpenAI, model: str, max_tokens: int, temperature: float, timeout: float
    ) -> None:
        self._client = client
        self._model = model
        self._max_tokens = max_tokens
        self._temperature = temperature
        self._timeout = timeout

    def complete(self, messages: list[dict[str, str]], timeout: float | None = None) -> Completion:
        limit = self._timeout if timeout is None else max(0.1, min(self._timeout, timeout))
        try:
            response = self._client.chat.completions.create(
                model=self._model,
                messages=messages,  # type: ignore[arg-type]
                max_tokens=self._max_tokens,
                temperature=self._temperature,
                timeout=limit,
            )
        except openai.APITimeoutError as exc:
            raise DependencyUnavailableError("llm", f"no answer within {limit:.1f} s") from exc
        except openai.APIConnectionError as exc:
            raise DependencyUnavailableError("llm", type(exc).__name__) from exc
        except openai.APIStatusError as exc:
            raise _classify(exc) from exc
        usage = response.usage
        completion = Completion(
            text="",
            model=response.model or self._model,
            usage=Usage(
                prompt_tokens=usage.prompt_tokens if usage else 0,
                completion_tokens=usage.completion_tokens if usage else 0,
                total_tokens=usage.total_tokens if usage else 0,
            ),
        )
        choice = response.choices[0] if response.choices else None
        if choice is not None and choice.finish_reason == "content_filter":
            # The call completed and its tokens were billed: ``spent`` lets them be counted.
            raise AnswerGenerationError("the LLM provider withheld the answer (content filter)", spent=completion)
        text = (choice.message.content or "").strip() if choice else ""
        if not text:
            raise AnswerGenerationError("LLM returned an empty answer", spent=completion)
        return completion.model_copy(update={"text": text})


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

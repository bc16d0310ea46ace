"""Chat completions through the ``openai`` SDK: OpenAI itself or any compatible server
(the local llama.cpp server offline)."""

from __future__ import annotations

import openai

from ragcore.domain.answers import Completion, Usage
from ragcore.domain.errors import AnswerGenerationError, DependencyUnavailableError


class OpenAIChatModel:
    """Implements ``ports.ChatModel``. Retries with backoff on 429/5xx/timeouts are the
    SDK's own (``max_retries``)."""

    def __init__(self, client: openai.OpenAI, model: str, max_tokens: int, temperature: float) -> None:
        self._client = client
        self._model = model
        self._max_tokens = max_tokens
        self._temperature = temperature

    def complete(self, messages: list[dict[str, str]]) -> Completion:
        try:
            response = self._client.chat.completions.create(
                model=self._model,
                messages=messages,  # type: ignore[arg-type]
                max_tokens=self._max_tokens,
                temperature=self._temperature,
            )
        except (openai.APIConnectionError, openai.APITimeoutError, openai.RateLimitError) as exc:
            raise DependencyUnavailableError("llm", type(exc).__name__) from exc
        except openai.APIStatusError as exc:
            # The status and type only: the body may echo request data.
            raise AnswerGenerationError(f"LLM request failed with HTTP {exc.status_code}") from exc
        choice = response.choices[0] if response.choices else None
        text = (choice.message.content or "").strip() if choice else ""
        if not text:
            raise AnswerGenerationError("LLM returned an empty answer")
        usage = response.usage
        return Completion(
            text=text,
            model=response.model or self._model,
            usage=Usage(
                prompt_tokens=usage.prompt_tokens if usage else 0,
                completion_tokens=usage.completion_tokens if usage else 0,
                total_tokens=usage.total_tokens if usage else 0,
            ),
        )

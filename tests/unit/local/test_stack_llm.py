"""The offline stack runs its bundled model unless the settings name an LLM endpoint; then it
says which model answers, and where, without the key or credentials in the URL."""

from __future__ import annotations

import pytest

from ragcore.config import Settings
from ragcore.local.stack import DevStack, StackOptions, describe_llm


@pytest.fixture(autouse=True)
def no_llm_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "LLM_MODEL"):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize(
    "given, bundled",
    [
        ({}, True),
        ({"openai_api_key": "sk-test"}, False),
        ({"openai_base_url": "http://127.0.0.1:8000/v1"}, False),
        ({"openai_base_url": "http://127.0.0.1:8000/v1", "openai_api_key": "sk-test"}, False),
    ],
)
def test_the_bundled_model_runs_only_when_no_endpoint_is_named(given: dict[str, str], bundled: bool) -> None:
    assert StackOptions.from_settings(Settings(**given)).with_llm is bundled


def test_the_environment_names_the_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-the-environment")
    assert StackOptions.from_settings(Settings()).with_llm is False


def test_openai_itself_when_only_a_key_is_given() -> None:
    settings = Settings(openai_api_key="sk-secret-value")
    assert describe_llm(settings) == "gpt-4.1-mini at https://api.openai.com/v1"


def test_the_description_names_model_and_endpoint_but_no_credentials() -> None:
    settings = Settings(
        openai_base_url="https://user:hunter2@llm.example.com:8443/v1?token=abc",
        openai_api_key="sk-secret-value", llm_model="qwen2.5-7b-instruct",
    )
    described = describe_llm(settings)
    assert described == "qwen2.5-7b-instruct at https://llm.example.com:8443/v1"
    assert "hunter2" not in described and "sk-secret-value" not in described and "abc" not in described


def test_the_start_up_line_names_a_local_llm_only_when_one_starts() -> None:
    bundled = DevStack(StackOptions.from_settings(Settings()))
    named = DevStack(StackOptions.from_settings(Settings(openai_api_key="sk-test")))
    assert bundled.services == "Valkey, LocalStack SQS, embedded Qdrant, local LLM"
    assert named.services == "Valkey, LocalStack SQS, embedded Qdrant"

import pytest
from pydantic import ValidationError

from ragcore.config import Settings


def test_standard_environment_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret-value")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://llm:8080/v1")
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://localhost:4566")
    settings = Settings()
    assert settings.openai_base_url == "http://llm:8080/v1"
    assert settings.aws_region == "eu-west-1" and settings.aws_endpoint_url == "http://localhost:4566"
    assert settings.openai_api_key is not None
    assert settings.openai_api_key.get_secret_value() == "sk-secret-value"
    assert "sk-secret-value" not in repr(settings) and "sk-secret-value" not in str(settings.model_dump())


def test_lambda_refuses_the_embedded_qdrant_but_the_api_does_not_need_it(monkeypatch: pytest.MonkeyPatch) -> None:
    from ragcore.bootstrap import Container

    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "ApiFunction")
    monkeypatch.delenv("QDRANT_URL", raising=False)
    # The API function has no QDRANT_URL and must start.
    container = Container(Settings(), embedder=type("E", (), {"dimension": 3})())
    with pytest.raises(ValueError, match="QDRANT_URL must be set in AWS Lambda"):
        container.vector_index


def test_bad_numbers_fail_fast(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JOB_MAX_ATTEMPTS", "0")
    with pytest.raises(ValidationError):
        Settings()


def test_lambda_refuses_to_start_with_auth_switched_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTH_DISABLED", "1")
    assert Settings().auth_disabled  # offline: allowed
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "ApiFunction")
    with pytest.raises(ValidationError, match="local development only"):
        Settings()


def test_a_cors_wildcard_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CORS_ALLOW_ORIGINS", "https://a.example,*")
    with pytest.raises(ValidationError, match="not allowed"):
        Settings()


@pytest.mark.parametrize(("initial", "maximum"), [("0", "120"), ("30", "10")])
def test_redelivery_delays_must_wait_and_grow(monkeypatch: pytest.MonkeyPatch, initial: str, maximum: str) -> None:
    monkeypatch.setenv("REDELIVERY_INITIAL_SECONDS", initial)
    monkeypatch.setenv("REDELIVERY_MAX_SECONDS", maximum)
    with pytest.raises(ValidationError, match="REDELIVERY|greater than or equal to 1"):
        Settings()


def test_settings_given_to_a_child_process_read_back_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings(valkey_url="redis://cache:6379/0", openai_api_key="sk-child", auth_disabled=True,
                        qdrant_path="/data/qdrant", embedder_threads=3, llm_temperature=0.5)
    for name, value in settings.as_env().items():
        monkeypatch.setenv(name, value)
    assert Settings() == settings


def test_an_updated_copy_is_validated_and_leaves_the_original_alone() -> None:
    settings = Settings(job_max_attempts=3)
    assert settings.updated(job_max_attempts=2).job_max_attempts == 2
    assert settings.job_max_attempts == 3
    with pytest.raises(ValidationError):
        settings.updated(job_max_attempts=0)

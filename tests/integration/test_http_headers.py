"""Security headers on every answer and CORS for listed origins only."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from ragcore.bootstrap import reset_container
from rag_api.app import create_app
from rag_api.headers import SECURITY_HEADERS

pytestmark = pytest.mark.usefixtures("lambda_env")


def client() -> TestClient:
    reset_container()
    return TestClient(create_app())


@pytest.mark.parametrize(("method", "path"), [("GET", "/"), ("GET", f"/job-status/{'0' * 32}"),
                                              ("POST", "/chat"), ("GET", "/nowhere")])
def test_every_answer_carries_the_security_headers(method: str, path: str) -> None:
    response = client().request(method, path)
    for name, value in SECURITY_HEADERS.items():
        assert response.headers[name] == value


def test_no_origin_is_allowed_unless_listed(monkeypatch: pytest.MonkeyPatch) -> None:
    preflight = {"Origin": "https://app.example", "Access-Control-Request-Method": "POST"}
    assert "access-control-allow-origin" not in client().options("/chat", headers=preflight).headers
    monkeypatch.setenv("CORS_ALLOW_ORIGINS", "https://app.example, https://admin.example")
    allowed = client().options("/chat", headers=preflight)
    assert allowed.headers["access-control-allow-origin"] == "https://app.example"
    assert "access-control-allow-credentials" not in allowed.headers
    other = client().options("/chat", headers={**preflight, "Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in other.headers


def test_even_a_server_error_carries_the_security_headers(monkeypatch: pytest.MonkeyPatch) -> None:
    from ragcore.bootstrap import get_container

    app = client().app
    store = get_container().job_store
    monkeypatch.setattr(type(store), "get", lambda self, job_id: (_ for _ in ()).throw(RuntimeError("bug")))
    response = TestClient(app, raise_server_exceptions=False).get(f"/job-status/{'0' * 32}")
    assert response.status_code == 500 and response.json()["error"]["code"] == "internal_error"
    for name, value in SECURITY_HEADERS.items():
        assert response.headers[name] == value

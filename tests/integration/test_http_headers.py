"""Security headers on every answer (the pages /ui and /docs with their own, narrow CSP) and
CORS for listed origins only."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from rag_api.app import create_app
from rag_api.headers import DOCS_CSP, SECURITY_HEADERS, UI_CSP
from rag_api.ui_routes import ASSET_CACHE, FILES, HTML, PAGE_CACHE
from tests.support.settings import Configure

pytestmark = pytest.mark.usefixtures("lambda_env")


def client() -> TestClient:
    return TestClient(create_app())


@pytest.mark.parametrize(("method", "path"), [("GET", "/"), ("GET", f"/job-status/{'0' * 32}"),
                                              ("POST", "/chat"), ("GET", "/nowhere")])
def test_every_answer_carries_the_security_headers(method: str, path: str) -> None:
    response = client().request(method, path)
    for name, value in SECURITY_HEADERS.items():
        assert response.headers[name] == value


def test_no_origin_is_allowed_unless_listed(configure: Configure) -> None:
    preflight = {"Origin": "https://app.example", "Access-Control-Request-Method": "POST"}
    assert "access-control-allow-origin" not in client().options("/chat", headers=preflight).headers
    configure(cors_allow_origins="https://app.example, https://admin.example")
    allowed = client().options("/chat", headers=preflight)
    assert allowed.headers["access-control-allow-origin"] == "https://app.example"
    assert "access-control-allow-credentials" not in allowed.headers
    other = client().options("/chat", headers={**preflight, "Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in other.headers


def test_even_a_server_error_carries_the_security_headers(monkeypatch: pytest.MonkeyPatch) -> None:
    from ragcore.bootstrap import get_container

    app = client().app
    store = get_container().job_store
    # On the instance: the container's store may be a wrapper that delegates (MeteredJobStore).
    monkeypatch.setattr(store, "get", lambda *args: (_ for _ in ()).throw(RuntimeError("bug")))
    response = TestClient(app, raise_server_exceptions=False).get(f"/job-status/{'0' * 32}")
    assert response.status_code == 500 and response.json()["error"]["code"] == "internal_error"
    for name, value in SECURITY_HEADERS.items():
        assert response.headers[name] == value


PAGES = {"/ui": UI_CSP, "/docs": DOCS_CSP}


@pytest.mark.parametrize("path", sorted(FILES))
def test_the_pages_and_their_files_are_public_and_keep_the_other_headers(
    path: str, configure: Configure
) -> None:
    configure(auth_disabled=False)
    app = client()
    response = app.get(path)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == FILES[path][1]
    expected_csp = PAGES.get(path, SECURITY_HEADERS["Content-Security-Policy"])
    assert response.headers["Content-Security-Policy"] == expected_csp
    # The same for everyone, changed only by a deploy: scripts and styles cached for an hour,
    # pages revalidated on each visit (the JSON API stays no-store: test above).
    page = FILES[path][1] == HTML
    assert response.headers["Cache-Control"] == (PAGE_CACHE if page else ASSET_CACHE)
    assert (path in PAGES) == page
    for name, value in SECURITY_HEADERS.items():
        if name not in ("Content-Security-Policy", "Cache-Control"):
            assert response.headers[name] == value
    assert app.get("/documents").status_code == 401  # what the pages call still needs a key


@pytest.mark.parametrize("csp", [UI_CSP, DOCS_CSP])
def test_the_pages_policies_allow_only_their_own_origin(csp: str) -> None:
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    assert directives["default-src"] == "'none'" and directives["frame-ancestors"] == "'none'"
    for name in ("script-src", "style-src", "connect-src"):
        assert directives[name] == "'self'"  # nothing inline, no eval, no other host
    assert directives["img-src"] in ("'self'", "'self' data:")


def test_pages_refer_to_the_api_and_their_files_relatively() -> None:
    """Under a stage prefix (https://host/v1/ui) an absolute "/chat" would miss the API."""
    app = client()
    for page in PAGES:
        html = app.get(page).text
        assert not re.search(r"""(src|href)=["']/""", html), page
        assert "://" not in re.sub(r"<!--.*?-->", "", html, flags=re.S), page
    script = app.get("/ui/app.js").text
    assert not re.search(r"""call\(\s*"[A-Z]+",\s*[`"']/""", script)
    assert 'new URL("../", document.currentScript.src)' in script

"""Where the API is and which key to send: arguments first, then ``RAGCORE_API_URL`` and
``RAGCORE_API_KEY``, then the offline stack's address (what ``ragcore dev`` listens on: its
``DEV_HOST`` and ``DEV_API_PORT``, read here without the server's settings)."""

from __future__ import annotations

import os
from typing import Any

from ragcore.local.defaults import DEV_API_PORT, DEV_HOST

API_URL_ENV = "RAGCORE_API_URL"
API_KEY_ENV = "RAGCORE_API_KEY"
DEFAULT_TIMEOUT = 30.0  # per request; the API's own work is bounded well below it
USER_AGENT = "ragcore-client/0.1.0"


def local_api_url() -> str:
    return f"http://{os.environ.get('DEV_HOST', DEV_HOST)}:{os.environ.get('DEV_API_PORT', DEV_API_PORT)}"


def api_url(base_url: str | None = None) -> str:
    return (base_url or os.environ.get(API_URL_ENV) or local_api_url()).rstrip("/")


class Described:
    """``base_url`` and a repr that says whether a key is set, never the key itself; for
    ``Client`` and ``AsyncClient``, whose ``_http`` is an httpx client built from
    ``http_options``."""

    _http: Any
    _authenticated: bool

    @property
    def base_url(self) -> str:
        return str(self._http.base_url).rstrip("/")

    def __repr__(self) -> str:
        key = "set" if self._authenticated else "unset"
        return f"{type(self).__name__}({self.base_url!r}, api_key={key})"


def http_options(base_url: str | None, api_key: str | None, timeout: float) -> dict[str, Any]:
    """Arguments for ``httpx.Client``/``httpx.AsyncClient``. The key goes only into a header
    of requests to ``base_url``; httpx neither logs headers nor shows them in a repr."""
    key = api_key if api_key is not None else os.environ.get(API_KEY_ENV)
    headers = {"User-Agent": USER_AGENT, **({"Authorization": f"Bearer {key}"} if key else {})}
    return dict(base_url=api_url(base_url), headers=headers, timeout=timeout)

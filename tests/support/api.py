"""The API function behind the local API Gateway on a free port, with an HTTP client: the
same handler and routes as template.yaml, as a test's client would meet them."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import httpx

from ragcore.local.handlers import invoke, load_handler
from ragcore.local.http_gateway import HttpGateway, routes_of
from ragcore.local.template import load_template
from ragcore.local.web_adapter import WebAdapter
from tests.support.paths import ROOT, free_port


@contextmanager
def local_api(streaming: bool = True) -> Iterator[httpx.Client]:
    """``streaming=False``: the API as deployed before its streaming routes (a client's
    fallback is tested against it), whose paths the gateway answers 403."""
    template = load_template(ROOT / "template.yaml")
    handler = load_handler(template.api)
    port = free_port()
    assert template.streaming is not None
    adapter = WebAdapter(template.streaming)  # the streaming routes' function (GET /jobs/{id}/events)
    adapter.start()
    routes = routes_of(template) if streaming else [route for route in routes_of(template) if not route.streaming]
    gateway = HttpGateway("127.0.0.1", port, routes, template.stage,
                          lambda event: invoke(template.api, handler, event), web_adapter=adapter)
    gateway.start()
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            yield client
    finally:
        gateway.stop()
        adapter.stop()

"""``GET /metrics`` of the local runner: the Prometheus registry the handlers record into
(``METRICS_BACKEND=prometheus``, set by the stack). A runner endpoint, not an API route:
template.yaml does not route it and the API function never sees it."""

from __future__ import annotations

from ragcore.local.http_gateway import LocalEndpoint

PATH = "/metrics"


def metrics_response() -> tuple[int, list[tuple[str, str]], bytes]:
    from ragcore.observability.prometheus import exposition

    content_type, body = exposition()
    return 200, [("Content-Type", content_type), ("Cache-Control", "no-store")], body


ENDPOINTS: dict[str, LocalEndpoint] = {PATH: metrics_response}

"""HTTP request <-> API Gateway REST (v1) proxy event, as API Gateway itself builds them.

Written by hand because the tools that do this (``sam local start-api``) need Docker; the
format is small and fixed, and ``events/`` holds real examples that the tests compare against.
"""

from __future__ import annotations

import base64
import re
import time
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl



def gateway_error(response_type: str, message: str) -> dict[str, dict[str, str]]:
    """API Gateway's own error, as the template's GatewayResponses shape it."""
    return {"error": {"code": response_type, "message": message}}


MISSING_ROUTE = gateway_error("MISSING_AUTHENTICATION_TOKEN", "Missing Authentication Token")


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # e.g. /result/{job_id}
    # Its integration streams (ResponseTransferMode: RESPONSE_STREAM): the function's app
    # answers through the web adapter, not a buffered invocation (``local.web_adapter``).
    streaming: bool = False

    def match(self, method: str, path: str) -> dict[str, str] | None:
        if method.upper() != self.method.upper() and self.method.upper() != "ANY":
            return None
        pattern = "^" + re.sub(r"\\{(\w+)\\}", r"(?P<\1>[^/]+)", re.escape(self.path)) + "$"
        found = re.match(pattern, path)
        return found.groupdict() if found else None


def find_route(routes: list[Route], method: str, path: str) -> tuple[Route, dict[str, str]] | None:
    for route in routes:
        params = route.match(method, path)
        if params is not None:
            return route, params
    return None


def to_event(
    *,
    method: str,
    path: str,
    query: str,
    headers: list[tuple[str, str]],
    body: bytes,
    route: Route,
    path_parameters: dict[str, str],
    stage: str,
    source_ip: str,
) -> dict[str, Any]:
    single_headers: dict[str, str] = {}
    multi_headers: dict[str, list[str]] = {}
    for name, value in headers:
        single_headers[name] = value
        multi_headers.setdefault(name, []).append(value)
    pairs = parse_qsl(query, keep_blank_values=True)
    single_query = dict(pairs) or None
    multi_query: dict[str, list[str]] = {}
    for k, v in pairs:
        multi_query.setdefault(k, []).append(v)
    text_body, is_base64 = _encode_body(body)
    now = time.time()
    return {
        "resource": route.path,
        "path": path,
        "httpMethod": method.upper(),
        "headers": single_headers or None,
        "multiValueHeaders": multi_headers or None,
        "queryStringParameters": single_query,
        "multiValueQueryStringParameters": multi_query or None,
        "pathParameters": path_parameters or None,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": route.path,
            "httpMethod": method.upper(),
            # As behind a custom domain with an empty base path mapping: the local URLs have
            # no stage prefix, so links built from this path work locally.
            "path": path,
            "stage": stage,
            "requestId": str(uuid.uuid4()),
            "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "requestTimeEpoch": int(now * 1000),
            "protocol": "HTTP/1.1",
            "accountId": "000000000000",
            "apiId": "local",
            "identity": {"sourceIp": source_ip, "userAgent": single_headers.get("User-Agent")},
        },
        "body": text_body,
        "isBase64Encoded": is_base64,
    }


def _encode_body(body: bytes) -> tuple[str | None, bool]:
    if not body:
        return None, False
    try:
        return body.decode("utf-8"), False
    except UnicodeDecodeError:
        return base64.b64encode(body).decode("ascii"), True


def from_response(response: dict[str, Any]) -> tuple[int, list[tuple[str, str]], bytes]:
    headers: list[tuple[str, str]] = list((response.get("headers") or {}).items())
    for name, values in (response.get("multiValueHeaders") or {}).items():
        headers.extend((name, v) for v in values)
    body = response.get("body") or ""
    raw = base64.b64decode(body) if response.get("isBase64Encoded") else body.encode("utf-8")
    return int(response["statusCode"]), headers, raw

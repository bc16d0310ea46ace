"""POSTing a webhook to the address that was checked (``ports.WebhookSender``, with httpx).

The host is resolved once here; every address it resolves to must be one the service may call
(``domain.callbacks.address_refusal``), and the connection goes to the first of them by its
address, so no second lookup can swap in an internal one (DNS rebinding). The URL names the
address; the ``Host`` header and TLS (SNI and the certificate's check, httpcore's
``sni_hostname`` extension) keep the host's name, so a receiver sees an ordinary request.

Each POST gets its own client: a pooled connection is keyed by the address, and one opened
(and verified) for another host name on the same address must never carry this one. Redirects
are not followed (a 3xx is a failed attempt), the response body is never read, and the connect
and each read are bounded by ``timeout_seconds``.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
from typing import Callable
from urllib.parse import urlsplit, urlunsplit

import certifi
import httpx

from ragcore.domain.callbacks import Address, address_refusal
from ragcore.domain.errors import CallbackRefusedError, CallbackUnreachableError

Resolver = Callable[[str, int], list[Address]]


def resolve(host: str, port: int) -> list[Address]:
    """Every address ``host`` has for a TCP connection (a literal address is itself)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise CallbackUnreachableError(f"{host} could not be resolved ({exc})") from exc
    found: list[Address] = []
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        if address not in found:
            found.append(address)
    return found


class PinnedHttpSender:
    def __init__(self, timeout_seconds: float, allow_private: bool, resolver: Resolver = resolve,
                 trusted: ssl.SSLContext | None = None) -> None:
        """``trusted``: the certificate authorities receivers' certificates are checked against
        (default: certifi's, as httpx has them), loaded once rather than for every POST."""
        self._timeout = httpx.Timeout(timeout_seconds)
        self._allow_private = allow_private
        self._resolve = resolver
        self._verify = trusted or ssl.create_default_context(cafile=certifi.where())

    def post(self, url: str, body: bytes, headers: dict[str, str]) -> int:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port or (443 if parts.scheme == "https" else 80)
        addresses = self._resolve(host, port)
        if not addresses:
            raise CallbackUnreachableError(f"{host} has no address")
        if not self._allow_private:
            for address in addresses:
                refused = address_refusal(address)
                if refused:
                    raise CallbackRefusedError(f"{host} resolves to {refused}; the service does not call it")
        address = addresses[0]
        shown = f"[{address}]" if address.version == 6 else str(address)
        pinned = urlunsplit((parts.scheme, f"{shown}:{port}", parts.path or "/", parts.query, ""))
        host_header = parts.netloc.rpartition("@")[2]
        extensions = {"sni_hostname": host} if parts.scheme == "https" else {}
        try:
            with httpx.Client(timeout=self._timeout, follow_redirects=False, trust_env=False,
                              verify=self._verify) as client:
                with client.stream("POST", pinned, content=body, headers={**headers, "Host": host_header},
                                   extensions=extensions) as response:
                    return response.status_code
        except httpx.HTTPError as exc:
            raise CallbackUnreachableError(f"no answer from {host} ({type(exc).__name__})") from exc

"""POSTing a webhook to the address that was checked (``ports.WebhookSender``, with httpx).

The host is resolved once here; every address it resolves to must be one the service may call
(``domain.callbacks.address_refusal``), and the connection goes to the first of them by its
address, so no second lookup can swap in an internal one (DNS rebinding). The URL names the
address; the ``Host`` header and TLS (SNI and the certificate's check, httpcore's
``sni_hostname`` extension) keep the host's name, so a receiver sees an ordinary request.

Each POST gets its own client: a pooled connection is keyed by the address, and one opened
(and verified) for another host name on the same address must never carry this one. Redirects
are not followed (a 3xx is a failed attempt) and the response body is never read. The connect
and each read are bounded by ``timeout_seconds``, and the whole POST, up to the receiver's
status and headers, by ``domain.callbacks.post_deadline_seconds`` (``_Deadline``): a read
timeout alone lets a receiver that sends a byte at a time hold the attempt for as long as it
likes.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
import threading
from typing import Any, Callable
from urllib.parse import urlsplit, urlunsplit

import certifi
import httpx

from ragcore.domain.callbacks import Address, address_refusal, post_deadline_seconds
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


class _Deadline:
    """Ends one POST at ``seconds`` from its start, however slowly its receiver answers.

    httpx has no overall deadline, so at the deadline (a daemon timer) the connection's socket
    is shut down both ways: the blocked read returns, under TLS too (the TLS layer reads EOF),
    and httpx raises its own error, a failed attempt. The socket is taken from httpcore's
    ``trace`` extension when the TCP connect completes, as a duplicate descriptor: TLS then
    takes over (detaches) the original socket object, while the duplicate names the same
    connection and stays ours to shut down and close."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.expired = False
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def __enter__(self) -> "_Deadline":
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._timer.cancel()
        with self._lock:
            if self._sock is not None:
                self._sock.close()
                self._sock = None

    def trace(self, event: str, info: dict[str, Any]) -> None:
        """httpcore's ``trace`` extension: called at each step of the request."""
        if event == "connection.connect_tcp.complete":
            with self._lock:
                self._sock = info["return_value"].get_extra_info("socket").dup()
                if self.expired:  # the connect outlasted the deadline
                    self._shut()

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            self._shut()

    def _shut(self) -> None:
        if self._sock is not None:
            try:
                self._sock.shutdown(socket.SHUT_RDWR)
            except OSError:  # closed by the peer already
                pass


class PinnedHttpSender:
    def __init__(self, timeout_seconds: float, allow_private: bool, resolver: Resolver = resolve,
                 trusted: ssl.SSLContext | None = None) -> None:
        """``trusted``: the certificate authorities receivers' certificates are checked against
        (default: certifi's, as httpx has them), loaded once rather than for every POST."""
        self._timeout = httpx.Timeout(timeout_seconds)
        self._deadline_seconds = post_deadline_seconds(timeout_seconds)
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
        deadline = _Deadline(self._deadline_seconds)
        extensions: dict[str, Any] = {"trace": deadline.trace}
        if parts.scheme == "https":
            extensions["sni_hostname"] = host
        try:
            with deadline, httpx.Client(timeout=self._timeout, follow_redirects=False, trust_env=False,
                                        verify=self._verify) as client:
                with client.stream("POST", pinned, content=body, headers={**headers, "Host": host_header},
                                   extensions=extensions) as response:
                    return response.status_code
        except httpx.HTTPError as exc:
            if deadline.expired:
                raise CallbackUnreachableError(
                    f"no answer from {host} within {deadline.seconds:g} s") from exc
            raise CallbackUnreachableError(f"no answer from {host} ({type(exc).__name__})") from exc

"""Completion webhooks' rules, without I/O: which callback URLs a client may give, which
addresses the service may call, a delivery's id, states and retry schedule.

A callback URL is checked twice. At submission (a 422 naming ``callback_url``): a URL the
service could never call (one whose host is neither a valid name nor an IP address, say), or
one whose host is a literal address it must not call; an internationalised host name is kept
in its ASCII (punycode) form, the one DNS and the ``Host`` header carry. At each delivery
(``adapters/webhook_http.py``): every address the host resolves to, and the connection goes
to the address checked, so a name that resolves to an internal address later (DNS rebinding)
is refused too.

Offline, the stack's receivers listen on 127.0.0.1 over plain HTTP, so the setting
``WEBHOOK_ALLOW_PRIVATE`` (refused in AWS Lambda, ``config.py``) allows ``http`` and private
addresses. Pydantic validates requests where no settings reach, so the installed container's
value is handed here once (``bootstrap.use``) and read by the validator.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated
from urllib.parse import urlsplit, urlunsplit

import idna
from pydantic import AfterValidator, BaseModel, Field

MAX_CALLBACK_URL_CHARS = 2000
MAX_HOST_CHARS = 253  # DNS's limit on a name
_LDH_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")


@dataclass
class _Allowance:
    private: bool = False


_allowance = _Allowance()


def allow_private(allowed: bool) -> None:
    """The installed settings' ``WEBHOOK_ALLOW_PRIVATE`` (``bootstrap.use`` calls it)."""
    _allowance.private = allowed


def private_allowed() -> bool:
    return _allowance.private


Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def address_refusal(address: Address) -> str | None:
    """Why the service may not call ``address`` (None: it may): anything not on the public
    internet. An IPv4-mapped (or NAT64/6to4-embedded) IPv6 address is judged as its IPv4."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is not None:
            return address_refusal(embedded)
    for kind in ("loopback", "link_local", "site_local", "unspecified", "multicast", "reserved", "private"):
        if getattr(address, f"is_{kind}", False):  # site-local: IPv6 only (fec0::/10, deprecated)
            return f"{address} is a {kind.replace('_', '-')} address"
    if not address.is_global:
        return f"{address} is not a public address"
    return None


def literal_address(host: str) -> Address | None:
    """The address ``host`` is, if it is one: an IP address, or a valid host name that resolvers
    read as an IPv4 address (inet_aton's other spellings, ``2130706433`` or ``127.1``), so that
    one is judged as the address it is too."""
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        pass
    name = ascii_host(host)
    if name is None:
        return None
    try:
        return ipaddress.IPv4Address(socket.inet_aton(name))
    except OSError:
        return None


def ascii_host(host: str) -> str | None:
    """``host`` (lower case, as ``urlsplit`` gives it) as DNS and the ``Host`` header carry it,
    None if it is no valid host name: labels of letters, digits and hyphens (LDH), none empty,
    at most 63 characters, none starting or ending with a hyphen. An internationalised name
    becomes its ASCII (punycode) form first, by IDNA 2008 with UTS #46 mapping: the ``idna``
    package, which httpx uses for the same."""
    if not host.isascii():
        try:
            host = idna.encode(host, uts46=True, std3_rules=True).decode("ascii")
        except UnicodeError:  # idna.IDNAError among them
            return None
    labels = host.removesuffix(".").split(".")
    if len(host) > MAX_HOST_CHARS or not all(_LDH_LABEL.fullmatch(label) for label in labels):
        return None
    return host


def callback_problem(url: str, allow_private: bool) -> str | None:
    """Why ``url`` cannot be a callback URL (None: it can)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        return f"not a valid URL: {exc}"
    schemes = ("https", "http") if allow_private else ("https",)
    if parts.scheme not in schemes:
        return "must be an https URL" if not allow_private else "must be an http or https URL"
    if not parts.hostname:
        return "must name a host"
    if parts.username is not None or parts.password is not None:
        return "must not carry credentials (user:password@); verify the signature instead"
    if parts.fragment:
        return "must not have a fragment (#...)"
    if port == 0:
        return "port 0 cannot be called"
    address = literal_address(parts.hostname)
    if parts.netloc.rpartition("@")[2].startswith("[") and not isinstance(address, ipaddress.IPv6Address):
        return "must name a host: only an IPv6 address goes in brackets"
    name = ascii_host(parts.hostname) if address is None else None
    if address is None and name is None:
        return "must name a valid host: an IP address, or a domain name of letters, digits and hyphens"
    if allow_private:
        return None
    if address is not None:
        refused = address_refusal(address)
        if refused:
            return f"cannot be called: {refused}"
    elif name is not None and (name.rstrip(".") == "localhost" or name.rstrip(".").endswith(".localhost")):
        return "cannot be called: localhost is a loopback address"
    return None


def ascii_callback_url(url: str) -> str:
    """``url`` (one ``callback_problem`` passed) with its host in ASCII form (``ascii_host``)."""
    parts = urlsplit(url)
    if parts.netloc.isascii():
        return url
    netloc = str(ascii_host(parts.hostname or "")) + (f":{parts.port}" if parts.port is not None else "")
    return urlunsplit(parts._replace(netloc=netloc))


def _valid_callback(url: str) -> str:
    problem = callback_problem(url, private_allowed())
    if problem:
        raise ValueError(problem)
    ascii_url = ascii_callback_url(url)
    if len(ascii_url) > MAX_CALLBACK_URL_CHARS:
        raise ValueError(f"must be at most {MAX_CALLBACK_URL_CHARS} characters with its host in ASCII form")
    return ascii_url


CallbackUrl = Annotated[
    str,
    Field(min_length=1, max_length=MAX_CALLBACK_URL_CHARS,
          description="when the job ends, its result document is POSTed here, signed per Standard Webhooks "
                      "(https; the job's status shows the delivery)"),
    AfterValidator(_valid_callback),
]


def post_deadline_seconds(timeout_seconds: float) -> float:
    """The longest one attempt's POST may take, from its connect to the receiver's status and
    headers, with ``WEBHOOK_TIMEOUT_SECONDS`` bounding the connect and each read: twice that, so
    a receiver that takes one whole timeout to answer is still heard, while one that trickles
    its answer is cut off (``adapters/webhook_http.py``). A delivery's claim outlasts it."""
    return 2 * timeout_seconds


def webhook_id(job_id: str) -> str:
    """The ``webhook-id`` of a job's delivery: one per job, however often it is sent, so a
    receiver drops repeats by it."""
    return f"msg_{job_id}"


class WebhookState(StrEnum):
    PENDING = "pending"  # the job runs, or its delivery is queued
    RETRYING = "retrying"  # an attempt failed; another is due
    DELIVERED = "delivered"  # the receiver answered 2xx
    FAILED = "failed"  # given up: 410, a refused address, or out of attempts

    @property
    def is_final(self) -> bool:
        return self in (WebhookState.DELIVERED, WebhookState.FAILED)


class WebhookDelivery(BaseModel):
    """A job's webhook as its status shows it."""

    id: str
    state: WebhookState
    attempts: int = Field(default=0, description="POSTs tried so far")
    last_status: int | None = Field(default=None, description="the receiver's HTTP status on the last attempt")
    last_error: str | None = Field(default=None, description="why the last attempt did not deliver")
    delivered_at: float | None = None


class Verdict(StrEnum):
    """What one attempt's answer means."""

    DELIVERED = "delivered"
    RETRY = "retry"
    GIVE_UP = "give up"


def verdict(status: int | None) -> Verdict:
    """2xx: delivered; 410 Gone: the receiver asks for no more; anything else (or no answer):
    try again later."""
    if status is not None and 200 <= status < 300:
        return Verdict.DELIVERED
    if status == 410:
        return Verdict.GIVE_UP
    return Verdict.RETRY


@dataclass(frozen=True)
class RetrySchedule:
    """How long a failed delivery waits before attempt n+1: ``delays[n-1]`` seconds (the last
    one repeats), over ``max_attempts`` attempts; the queue's maxReceiveCount is the same
    number, so the message goes to the dead-letter queue after the last."""

    delays: tuple[int, ...]
    max_attempts: int

    def delay(self, attempt: int) -> int:
        return self.delays[min(attempt, len(self.delays)) - 1]

    def span_seconds(self) -> int:
        """From the first attempt to the last."""
        return sum(self.delay(n) for n in range(1, self.max_attempts))


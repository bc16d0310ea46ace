"""Completion webhooks' rules, without I/O: which callback URLs a client may give, which
addresses the service may call, a delivery's id, states and retry schedule.

A callback URL is checked twice. At submission (a 422 naming ``callback_url``): a URL the
service could never call, or one whose host is a literal address it must not call. At each
delivery (``adapters/webhook_http.py``): every address the host resolves to, and the
connection goes to the address checked, so a name that resolves to an internal address later
(DNS rebinding) is refused too.

Offline, the stack's receivers listen on 127.0.0.1 over plain HTTP, so the setting
``WEBHOOK_ALLOW_PRIVATE`` (refused in AWS Lambda, ``config.py``) allows ``http`` and private
addresses. Pydantic validates requests where no settings reach, so the installed container's
value is handed here once (``bootstrap.use``) and read by the validator.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, Field

MAX_CALLBACK_URL_CHARS = 2000


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
    for kind in ("loopback", "link_local", "unspecified", "multicast", "reserved", "private"):
        if getattr(address, f"is_{kind}"):
            return f"{address} is a {kind.replace('_', '-')} address"
    if not address.is_global:
        return f"{address} is not a public address"
    return None


def literal_address(host: str) -> Address | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


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
    if address is not None and not allow_private:
        refused = address_refusal(address)
        if refused:
            return f"cannot be called: {refused}"
    if parts.hostname.rstrip(".").lower() == "localhost" and not allow_private:
        return "cannot be called: localhost is a loopback address"
    return None


def _valid_callback(url: str) -> str:
    problem = callback_problem(url, private_allowed())
    if problem:
        raise ValueError(problem)
    return url


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


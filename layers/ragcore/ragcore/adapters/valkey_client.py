"""One way to connect to Valkey and one mapping of its errors, for every Valkey adapter."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import valkey
from valkey.backoff import ExponentialBackoff
from valkey.retry import Retry

from ragcore.domain.errors import DependencyUnavailableError


def connect(
    url: str, timeout_seconds: float, username: str | None = None, password: str | None = None
) -> valkey.Valkey:
    """Credentials apart from the URL, so a password from Secrets Manager never sits in a
    configuration string (ElastiCache user-group auth: user name plus password, over TLS)."""
    credentials = {k: v for k, v in (("username", username), ("password", password)) if v}
    return valkey.Valkey.from_url(
        url,
        **credentials,
        socket_timeout=timeout_seconds,
        socket_connect_timeout=timeout_seconds,
        health_check_interval=30,
        retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), retries=2),
        decode_responses=True,
    )


# Replies that mean "the server cannot serve now" rather than "the command is wrong":
# out of memory, a replica during failover, cluster not ready. (Still loading its data is a
# ConnectionError subclass already.)
_UNAVAILABLE_REPLIES = (
    valkey.exceptions.OutOfMemoryError,
    valkey.exceptions.ReadOnlyError,
    valkey.exceptions.ClusterDownError,
    valkey.exceptions.MasterDownError,
    valkey.exceptions.TryAgainError,
)


@contextmanager
def valkey_errors() -> Iterator[None]:
    try:
        yield
    except (valkey.exceptions.ConnectionError, valkey.exceptions.TimeoutError) as exc:
        raise DependencyUnavailableError("valkey", type(exc).__name__) from exc
    except _UNAVAILABLE_REPLIES as exc:
        raise DependencyUnavailableError("valkey", type(exc).__name__) from exc



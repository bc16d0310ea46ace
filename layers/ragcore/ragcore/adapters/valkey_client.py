"""One way to connect to Valkey and one mapping of its errors, for every Valkey adapter.

A URL with the query parameter ``cluster=true`` (``rediss://host:6379/0?cluster=true``) gets
valkey-py's cluster client, which ElastiCache Serverless requires; any other URL the standalone
client. Either way every adapter sends only commands whose keys share one hash slot (hash tags
where a command or script spans keys), so the same code runs on both.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from functools import partial
from typing import Any, Iterator
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import valkey
from valkey.backoff import ExponentialBackoff
from valkey.cluster import ValkeyCluster
from valkey.commands.core import Script
from valkey.connection import parse_url
from valkey.exceptions import ValkeyClusterException
from valkey.retry import Retry

from ragcore.domain.errors import DependencyUnavailableError

CLUSTER_PARAMETER = "cluster"
_TRUE, _FALSE = ("true", "1", "yes", "on"), ("false", "0", "no", "off", "")


def connect(
    url: str, timeout_seconds: float, username: str | None = None, password: str | None = None
) -> valkey.Valkey | ClusterClient:
    """Credentials apart from the URL, so a password from Secrets Manager never sits in a
    configuration string (ElastiCache user-group auth: user name plus password, over TLS).
    Neither client talks to the server before its first command."""
    url, cluster = split_cluster_flag(url)
    options: dict[str, Any] = {k: v for k, v in (("username", username), ("password", password)) if v}
    options.update(
        socket_timeout=timeout_seconds,
        socket_connect_timeout=timeout_seconds,
        retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), retries=2),
        decode_responses=True,
    )
    if cluster:
        return ClusterClient(url, **options)
    return valkey.Valkey.from_url(url, health_check_interval=30, **options)


def split_cluster_flag(url: str) -> tuple[str, bool]:
    """The URL without its ``cluster`` query parameter, and whether that said true. A cluster
    has database 0 only (ElastiCache Serverless refuses SELECT), so another is an error."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    flags = [value.strip().lower() for name, value in query if name == CLUSTER_PARAMETER]
    if not flags:
        return url, False
    if any(f not in _TRUE + _FALSE for f in flags):
        raise ValueError(f"VALKEY_URL: {CLUSTER_PARAMETER}= takes true or false, not {flags[-1]!r}")
    cluster = flags[-1] in _TRUE
    rest = [(name, value) for name, value in query if name != CLUSTER_PARAMETER]
    stripped = urlunsplit(parts._replace(query=urlencode(rest)))
    if cluster:
        db = parse_url(stripped).get("db", 0)
        if db != 0:
            raise ValueError(
                f"VALKEY_URL: a Valkey cluster has database 0 only, not {db} (use /0 with cluster=true)"
            )
    return stripped, cluster


class ClusterClient:
    """valkey-py's ``ValkeyCluster``, built from the URL on the first command and built anew
    once it has lost the cluster, for two stock behaviours: its constructor fetches the slot
    map and COMMAND, so building the adapters would fail while Valkey is down; and it drops an
    unreachable node from its seeds, so a cluster reached through one endpoint (ElastiCache
    Serverless, the offline single node) could never be found again after a restart there.

    Methods go to the current stock client; once one fails with a ValkeyClusterException
    (the stock "cannot be connected"), the next call builds a new client. A pipeline's or
    ``scan_iter``'s failure is not seen here, but the client it leaves still serves, and its
    first command that needs the node it lost fails through here. ``register_script`` binds
    its scripts to this object, so they run on whichever client is current."""

    def __init__(self, url: str, **options: Any) -> None:
        self._url = url
        # The URL's endpoint stays the only seed (valkey-py's advice for a DNS endpoint, as
        # ElastiCache's are, where CLUSTER SLOTS may list IP addresses). Cluster retries keep
        # their default: a command is sent again after a slot map refresh (failover, scaling).
        self._options = {"dynamic_startup_nodes": False, **options}
        self._client: ValkeyCluster | None = None
        self._lock = threading.Lock()

    def _current(self) -> ValkeyCluster:
        client = self._client
        if client is None:
            with self._lock:  # one build, however many threads send a first command
                if self._client is None:
                    self._client = ValkeyCluster(url=self._url, **self._options)
                client = self._client
        return client

    def _call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        client = self._current()
        try:
            return getattr(client, name)(*args, **kwargs)
        except ValkeyClusterException:
            # Mostly "cannot be connected": no seed left, or none answered. (Otherwise a
            # command spanning slots, a bug: starting over costs a slot map, no more.) Not
            # closed: other threads may be mid-command on it; it closes when collected.
            with self._lock:
                if self._client is client:
                    self._client = None
            raise

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        if callable(getattr(ValkeyCluster, name, None)):
            return partial(self._call, name)  # builds the client when called
        return getattr(self._current(), name)  # PRIMARIES and other constants

    def register_script(self, script: str | bytes) -> Script:
        # Encoded here (UTF-8, valkey-py's default, which connect() keeps), so that Script
        # needs no client's encoder to hash it.
        return Script(self, script.encode() if isinstance(script, str) else script)

    def close(self) -> None:
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()


# Replies that mean "the server cannot serve now" rather than "the command is wrong":
# out of memory, a replica during failover, cluster not ready or resharding (ClusterError:
# CLUSTERDOWN, MASTERDOWN, too many redirections). (Still loading its data is a
# ConnectionError subclass already.) CROSSSLOT is a bug in the command, so not among them.
_UNAVAILABLE_REPLIES = (
    valkey.exceptions.OutOfMemoryError,
    valkey.exceptions.ReadOnlyError,
    valkey.exceptions.ClusterError,
    valkey.exceptions.TryAgainError,
    valkey.exceptions.SlotNotCoveredError,
)
_UNREACHABLE = (valkey.exceptions.ConnectionError, valkey.exceptions.TimeoutError)


@contextmanager
def valkey_errors() -> Iterator[None]:
    try:
        yield
    except _UNREACHABLE as exc:
        raise DependencyUnavailableError("valkey", type(exc).__name__) from exc
    except _UNAVAILABLE_REPLIES as exc:
        raise DependencyUnavailableError("valkey", type(exc).__name__) from exc
    except ValkeyClusterException as exc:
        # The cluster client's "cannot be connected" once no node it knows answers (or one
        # refused the credentials): raised from the connection error, or while handling it
        # when that error cost the client its last seed. Other ValkeyClusterExceptions are bugs.
        cause = exc.__cause__ or exc.__context__
        if isinstance(cause, _UNREACHABLE):
            raise DependencyUnavailableError("valkey", type(cause).__name__) from exc
        raise

"""One way to connect to Valkey and one mapping of its errors, for every Valkey adapter.

A URL with the query parameter ``cluster=true`` (``rediss://host:6379/0?cluster=true``) gets
valkey-py's cluster client, which ElastiCache Serverless requires; any other URL the standalone
client. Either way every adapter sends only commands whose keys share one hash slot (hash tags
where a command or script spans keys), so the same code runs on both.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Any, Iterator
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import valkey
from valkey.backoff import ExponentialBackoff
from valkey.cluster import ClusterNode, ValkeyCluster, get_node_name
from valkey.connection import parse_url
from valkey._parsers import Encoder
from valkey.retry import Retry

from ragcore.domain.errors import DependencyUnavailableError

CLUSTER_PARAMETER = "cluster"
_TRUE, _FALSE = ("true", "1", "yes", "on"), ("false", "0", "no", "off", "")


def connect(
    url: str, timeout_seconds: float, username: str | None = None, password: str | None = None
) -> valkey.Valkey | ValkeyCluster:
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
        return LazyValkeyCluster(url, **options)
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


class LazyValkeyCluster(ValkeyCluster):
    """``ValkeyCluster`` that, like the standalone client, talks to the server only when it
    first sends a command (the stock client asks for the slot map and COMMAND in its
    constructor, so building the adapters would fail while Valkey is down), and that never
    forgets the URL's node. The stock client drops a node it cannot reach from its start-up
    list, so a cluster whose only node restarted (one ElastiCache Serverless endpoint, the
    offline single node) could never be found again; here that node is put back before every
    refresh of the slot map.

    Cluster-level retries are off (``cluster_error_retry_attempts=0``): a command is tried as
    often as the standalone client tries it (the connections' own ``Retry``), so a failing
    call fails as fast, and a script that timed out is not run a second time by the client.
    Redirections (MOVED, ASK) are still followed."""

    def __init__(self, url: str, **options: Any) -> None:  # noqa: D107 - no I/O: see _connect
        self._url = url
        self._options = {"dynamic_startup_nodes": False, "cluster_error_retry_attempts": 0, **options}
        seed = parse_url(url)
        self._seed = (seed.get("host") or "localhost", int(seed.get("port") or 6379))
        self._connect_lock = threading.RLock()
        self._connecting = False
        self._connected = False
        self.encoder = Encoder(  # register_script hashes a script with it before any I/O
            options.get("encoding", "utf-8"), options.get("encoding_errors", "strict"),
            options.get("decode_responses", False),
        )

    def _connect(self) -> None:
        if self._connected:
            return
        with self._connect_lock:
            if self._connected or self._connecting:  # _connecting: our own constructor's COMMAND
                return
            self._connecting = True
            try:
                super().__init__(url=self._url, **self._options)
                self._keep_seed()
                self._connected = True
            finally:
                self._connecting = False

    def _keep_seed(self) -> None:
        manager = self.nodes_manager
        host, port = self._seed
        refresh = manager.initialize

        def initialize() -> None:
            if get_node_name(host, port) not in manager.startup_nodes:
                manager.startup_nodes[get_node_name(host, port)] = ClusterNode(host, port)
            refresh()

        manager.initialize = initialize

    def execute_command(self, *args: Any, **kwargs: Any) -> Any:
        self._connect()
        return super().execute_command(*args, **kwargs)

    def pipeline(self, transaction: Any = None, shard_hint: Any = None) -> Any:
        self._connect()
        return super().pipeline(transaction, shard_hint)

    def close(self) -> None:
        if self.__dict__.get("_connected"):
            super().close()

    def __getattr__(self, name: str) -> Any:
        # Only for what the constructor would have set (nodes_manager, ...), asked for before
        # the first command, e.g. by get_nodes().
        if name.startswith("_") or self.__dict__.get("_connected", True) or self.__dict__.get("_connecting"):
            raise AttributeError(name)
        self._connect()
        return getattr(self, name)


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
    except valkey.exceptions.ValkeyClusterException as exc:
        # The cluster client's "cannot be connected" once its node is unreachable (or refused
        # the credentials) wraps the connection error; other ValkeyClusterExceptions are bugs.
        if isinstance(exc.__cause__, _UNREACHABLE):
            raise DependencyUnavailableError("valkey", type(exc.__cause__).__name__) from exc
        raise

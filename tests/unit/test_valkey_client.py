"""Choosing the Valkey client from VALKEY_URL, and which of its errors mean "unavailable"."""

from __future__ import annotations

import hashlib
import threading
import time
from typing import Any

import pytest
import valkey

from ragcore.adapters import valkey_client
from ragcore.adapters.valkey_client import ClusterClient, connect, split_cluster_flag, valkey_errors
from ragcore.domain.errors import DependencyUnavailableError


@pytest.mark.parametrize(("url", "expected"), [
    ("redis://h:6379/0", ("redis://h:6379/0", False)),
    ("rediss://h:6379/0?cluster=true", ("rediss://h:6379/0", True)),
    ("rediss://h:6379?cluster=True&ssl_cert_reqs=none", ("rediss://h:6379?ssl_cert_reqs=none", True)),
    ("rediss://h:6379/0?cluster=false", ("rediss://h:6379/0", False)),
    ("redis://h:6379/3?cluster=0", ("redis://h:6379/3", False)),
])
def test_the_cluster_flag_is_read_and_taken_off_the_url(url: str, expected: tuple[str, bool]) -> None:
    assert split_cluster_flag(url) == expected


@pytest.mark.parametrize("url", ["rediss://h:6379/1?cluster=true", "redis://h:6379?db=2&cluster=true"])
def test_a_cluster_has_database_0_only(url: str) -> None:
    with pytest.raises(ValueError, match="database 0 only"):
        split_cluster_flag(url)


def test_a_cluster_flag_is_true_or_false() -> None:
    with pytest.raises(ValueError, match="true or false"):
        split_cluster_flag("redis://h:6379/0?cluster=maybe")


def test_the_url_picks_the_client_and_neither_connects_before_its_first_command() -> None:
    cluster = connect("redis://127.0.0.1:1/0?cluster=true", 0.2, "user", "secret")  # nothing listens
    assert isinstance(cluster, ClusterClient)
    cluster.register_script("return 1")  # hashes the script; still no connection
    with pytest.raises(DependencyUnavailableError, match="valkey"), valkey_errors():
        cluster.ping()  # the stock client's constructor, run now, cannot reach the node
    standalone = connect("redis://127.0.0.1:1/0", 0.2)
    assert isinstance(standalone, valkey.Valkey) and not isinstance(standalone, valkey.ValkeyCluster)


def _raised_through_valkey_errors(exc: BaseException) -> BaseException:
    try:
        with valkey_errors():
            raise exc
    except BaseException as raised:  # noqa: BLE001 - the test looks at what came out
        return raised
    raise AssertionError("nothing raised")


def _cannot_connect(seed_left: bool = True) -> valkey.exceptions.ValkeyClusterException:
    """The stock cluster client's error once no node answers: raised from the connection error
    when it tried its seed, or while handling it when that error cost it its last seed."""
    try:
        try:
            raise valkey.exceptions.ConnectionError("refused")
        except valkey.exceptions.ConnectionError as cause:
            raise valkey.exceptions.ValkeyClusterException("Valkey Cluster cannot be connected") from (
                cause if seed_left else None
            )
    except valkey.exceptions.ValkeyClusterException as exc:
        return exc


@pytest.mark.parametrize("exc", [
    valkey.exceptions.ConnectionError("refused"),
    valkey.exceptions.TimeoutError("slow"),
    valkey.exceptions.ClusterDownError("CLUSTERDOWN The cluster is down"),
    valkey.exceptions.MasterDownError("MASTERDOWN"),
    valkey.exceptions.TryAgainError("TRYAGAIN"),
    valkey.exceptions.ClusterError("TTL exhausted."),
    valkey.exceptions.SlotNotCoveredError("slot 12 not covered"),
    valkey.exceptions.OutOfMemoryError("OOM"),
    _cannot_connect(),
    _cannot_connect(seed_left=False),
], ids=lambda e: type(e).__name__)
def test_what_means_valkey_cannot_serve_now_is_unavailable(exc: Exception) -> None:
    assert isinstance(_raised_through_valkey_errors(exc), DependencyUnavailableError)


@pytest.mark.parametrize("exc", [
    valkey.exceptions.ClusterCrossSlotError("CROSSSLOT Keys in request don't hash to the same slot"),
    valkey.exceptions.ResponseError("CROSSSLOT Keys in request don't hash to the same slot"),
    valkey.exceptions.ValkeyClusterException("MGET - all keys must map to the same key slot"),
    valkey.exceptions.ResponseError("WRONGTYPE"),
], ids=lambda e: f"{type(e).__name__}:{str(e)[:12]}")
def test_a_command_spanning_two_slots_is_a_bug_not_an_outage(exc: Exception) -> None:
    assert _raised_through_valkey_errors(exc) is exc


class _Node:
    """One cluster node behind fake stock clients (``ValkeyCluster``'s place in the module):
    building a client fails while the node is down, as the stock constructor does, and so does
    every command; a restart forgets the loaded scripts."""

    def __init__(self) -> None:
        self.up, self.build_seconds = True, 0.0
        self.scripts: dict[str, bytes] = {}
        self.clients: list[Any] = []

    def check(self) -> None:
        if not self.up:
            raise _cannot_connect(seed_left=False)

    def restart(self) -> None:
        self.scripts.clear()


@pytest.fixture
def node(monkeypatch: pytest.MonkeyPatch) -> _Node:
    node = _Node()

    class StockClient:
        def __init__(self, url: str, **options: Any) -> None:
            time.sleep(node.build_seconds)
            node.check()
            node.clients.append(self)

        def ping(self) -> bool:
            node.check()
            return True

        def evalsha(self, sha: str, numkeys: int, *keys_and_args: Any) -> tuple[Any, bytes]:
            node.check()
            if sha not in node.scripts:
                raise valkey.exceptions.NoScriptError("No matching script")
            return self, node.scripts[sha]

        def script_load(self, script: bytes) -> str:
            node.check()
            sha = hashlib.sha1(script).hexdigest()
            node.scripts[sha] = script
            return sha

    monkeypatch.setattr(valkey_client, "ValkeyCluster", StockClient)
    return node


def _cluster() -> ClusterClient:
    return connect("redis://127.0.0.1:6379/0?cluster=true", 0.2)


def test_a_client_built_while_the_node_is_down_works_once_it_is_up(node: _Node) -> None:
    node.up = False
    client = _cluster()
    for _ in range(2):
        with pytest.raises(DependencyUnavailableError, match="valkey"), valkey_errors():
            client.ping()
    node.up = True
    assert client.ping() and len(node.clients) == 1


def test_a_client_that_lost_its_node_is_built_again_and_scripts_run_on_the_new_one(node: _Node) -> None:
    client = _cluster()
    script = client.register_script("return 1")
    assert script(keys=["k"]) == (node.clients[0], b"return 1")
    node.up = False
    with pytest.raises(DependencyUnavailableError), valkey_errors():
        script(keys=["k"])
    node.restart()
    node.up = True
    assert script(keys=["k"]) == (node.clients[1], b"return 1")  # loaded again into the restarted node
    assert script(keys=["k"])[0] is node.clients[1] and len(node.clients) == 2


def test_threads_sending_their_first_command_at_once_share_one_client(node: _Node) -> None:
    node.build_seconds = 0.2
    client, threads = _cluster(), 8
    start, results = threading.Barrier(threads), []

    def first_command() -> None:
        start.wait()
        results.append(client.ping())

    workers = [threading.Thread(target=first_command) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert results == [True] * threads and len(node.clients) == 1

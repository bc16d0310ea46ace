"""Choosing the Valkey client from VALKEY_URL, and which of its errors mean "unavailable"."""

from __future__ import annotations

import pytest
import valkey
from valkey.cluster import ValkeyCluster

from ragcore.adapters.valkey_client import connect, split_cluster_flag, valkey_errors
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
    cluster = connect("redis://127.0.0.1:1/0?cluster=true", 0.2, "user", "secret")
    assert isinstance(cluster, ValkeyCluster)
    cluster.register_script("return 1")  # hashes the script; still no connection
    standalone = connect("redis://127.0.0.1:1/0", 0.2)
    assert isinstance(standalone, valkey.Valkey) and not isinstance(standalone, ValkeyCluster)


def _raised_through_valkey_errors(exc: BaseException) -> BaseException:
    try:
        with valkey_errors():
            raise exc
    except BaseException as raised:  # noqa: BLE001 - the test looks at what came out
        return raised
    raise AssertionError("nothing raised")


def _cannot_connect() -> valkey.exceptions.ValkeyClusterException:
    try:
        try:
            raise valkey.exceptions.ConnectionError("refused")
        except valkey.exceptions.ConnectionError as cause:
            raise valkey.exceptions.ValkeyClusterException("Valkey Cluster cannot be connected") from cause
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

"""Valkey in cluster mode, as ElastiCache Serverless runs it: the single node the offline stack
and the tests use refuses what AWS refuses, the cluster client survives its node's restart,
reads every shard of a real three-node cluster, and an offline data directory written by an
older ragcore (standalone Valkey, registry keys without hash tags) carries on."""

from __future__ import annotations

import json
import logging
import uuid
from pathlib import Path

import pytest
import valkey

from ragcore.adapters.valkey_client import connect, valkey_errors
from ragcore.adapters.valkey_documents import ValkeyDocumentStore
from ragcore.adapters.valkey_job_records import ValkeyJobRecords
from ragcore.adapters.valkey_jobs import ValkeyJobStore
from ragcore.adapters.valkey_keys import ValkeyKeyStore
from ragcore.domain.api_keys import ApiKey
from ragcore.domain.documents import DocumentRecord, DocumentStatus
from ragcore.domain.errors import DependencyUnavailableError
from ragcore.domain.jobs import JobStatus, new_job
from ragcore.local.processes import ValkeyService
from ragcore.local.stack import migrate_offline_registry
from ragcore.domain.lifecycle import Outcome
from tests.support.paths import free_port
from tests.support.valkey_cluster import keys_per_node, single_node_admin


def test_the_single_node_refuses_every_command_spanning_two_slots(valkey_url: str) -> None:
    """What keeps a multi-slot command from reaching AWS: here it fails as it would there."""
    node = single_node_admin(valkey_url)
    assert node.execute_command("CLUSTER", "KEYSLOT", "a") != node.execute_command("CLUSTER", "KEYSLOT", "b")
    transaction = node.pipeline(transaction=True)
    transaction.set("a", "1")
    transaction.set("b", "2")
    for refused in (lambda: node.mget("a", "b"), transaction.execute, lambda: node.eval("return 1", 2, "a", "b")):
        with pytest.raises(valkey.exceptions.ResponseError, match="CROSSSLOT"):
            refused()
    assert node.exists("a") + node.exists("b") == 0  # the transaction did nothing
    assert node.mget("{t}a", "{t}b") == [None, None]  # one hash tag, one slot: fine
    # The cluster client refuses first; neither is mistaken for an outage.
    with pytest.raises(valkey.exceptions.ValkeyClusterException, match="same key slot"), valkey_errors():
        connect(valkey_url, timeout_seconds=5).mget(["a", "b"])


def test_the_cluster_client_finds_its_node_again_after_a_restart(tmp_path: Path) -> None:
    service = ValkeyService("127.0.0.1", free_port(), tmp_path / "valkey")
    store = ValkeyJobStore(connect(service.url, timeout_seconds=0.5), ttl_seconds=600)  # node not up yet
    with pytest.raises(DependencyUnavailableError, match="valkey"):
        store.ping()
    service.start()
    try:
        job = new_job("chat", {"query": "q"}, 600)
        store.create(job)
        service.stop()
        for _ in range(3):
            with pytest.raises(DependencyUnavailableError, match="valkey"):
                store.get(job.job_id)
        service.start()  # same data directory: nodes.conf keeps its slots, the AOF its keys
        assert store.get(job.job_id).status is JobStatus.QUEUED
        store.ping()
        # Its scripts, registered before, are loaded into the restarted node and run.
        assert store.claim(job.job_id, 60).outcome is Outcome.APPLIED
    finally:
        service.stop()


def test_the_job_records_scan_reads_every_shard(three_node_valkey_url: str) -> None:
    prefix = f"test:{uuid.uuid4().hex[:8]}:job:"
    client = connect(three_node_valkey_url, timeout_seconds=5)
    store = ValkeyJobStore(client, ttl_seconds=600, prefix=prefix)
    for _ in range(40):
        store.create(new_job("chat", {"query": "q"}, 600))
    spread = keys_per_node(client, f"{prefix}*")
    assert len([n for n in spread.values() if n]) == 3
    records = list(ValkeyJobRecords(client, prefix=prefix).scan())
    assert len(records) == 40 and {r.status for r in records} == {JobStatus.QUEUED}


def _old_entry(document_id: str, collection: str, created_at: float) -> str:
    return DocumentRecord(document_id=document_id, collection=collection, status=DocumentStatus.READY,
                          job_id="old-job", created_at=created_at, updated_at=created_at).model_dump_json()


def test_an_offline_data_directory_from_before_cluster_mode_is_migrated(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data, port = tmp_path / "valkey", free_port()
    # Written as the earlier offline stack did: standalone Valkey, registry keys without tags.
    old = ValkeyService("127.0.0.1", port, data, cluster=False)
    old.start()
    try:
        client = valkey.Valkey(host="127.0.0.1", port=port, decode_responses=True)
        for collection in ("default", "t1~manuals"):
            for i, document_id in enumerate(("guide", "faq:v2", "notes.md")):
                client.set(f"ragcore:doc:{collection}:{document_id}", _old_entry(document_id, collection, 10.0 + i))
                client.zadd(f"ragcore:docs:{collection}", {document_id: 10.0 + i})
        jobs = ValkeyJobStore(connect(old.url, timeout_seconds=5), ttl_seconds=600)
        job = new_job("chat", {"query": "q"}, 600)
        jobs.create(job)
        key = ApiKey(key_id="abcdef012345", name="k", tenant="t1")
        ValkeyKeyStore(connect(old.url, timeout_seconds=5)).add(key, "d" * 64)
        client.set("ragcore:upload:u1", json.dumps({"document_id": "guide"}))
    finally:
        old.stop()

    new = ValkeyService("127.0.0.1", port, data)  # cluster mode, the same directory
    new.start()
    try:
        caplog.set_level(logging.INFO)
        migrate_offline_registry(new.url)  # what the offline stack runs at start
        assert "moved 8 document registry keys" in caplog.text
        client = connect(new.url, timeout_seconds=5)
        registry = ValkeyDocumentStore(client)
        for collection in ("default", "t1~manuals"):
            listed, total = registry.list(collection, 0, 10)
            assert [r.document_id for r in listed] == ["guide", "faq:v2", "notes.md"] and total == 3
            assert registry.get(collection, "faq:v2").collection == collection
        assert sorted(client.scan_iter(match="ragcore:doc*")) == sorted(
            [f"ragcore:doc:{{{c}}}:{d}" for c in ("default", "t1~manuals") for d in ("guide", "faq:v2", "notes.md")]
            + ["ragcore:docs:{default}", "ragcore:docs:{t1~manuals}"]
        )
        # Jobs, keys and uploads keep their names.
        assert ValkeyJobStore(client, ttl_seconds=600).get(job.job_id).status is JobStatus.QUEUED
        assert ValkeyKeyStore(client).find("d" * 64) == key
        assert registry.load_upload("u1") == {"document_id": "guide"}
        # Done once: the next start moves nothing and changes nothing.
        caplog.clear()
        migrate_offline_registry(new.url)
        assert "moved" not in caplog.text and registry.list("default", 0, 10)[1] == 3
        # New writes work, and a restart keeps the node's slots (nodes.conf).
        assert registry.admit(DocumentRecord(document_id="new", collection="default", status=DocumentStatus.READY,
                                             job_id="j", created_at=20.0, updated_at=20.0), max_documents=10)
        new.stop()
        new.start()
        assert [r.document_id for r in registry.list("default", 0, 10)[0]][-1] == "new"
    finally:
        new.stop()


def test_the_migrate_registry_command_moves_a_deployed_caches_old_entries(
    lambda_env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    """For a cache the functions used before (an ExistingValkeyUrl): the command moves its
    entries; the offline stack does the same by itself at start."""
    from ragcore.cli import main

    collection = f"c-{uuid.uuid4().hex[:8]}"
    node = single_node_admin(lambda_env["VALKEY_URL"])  # writes the old names, one key a command
    node.set(f"ragcore:doc:{collection}:guide", _old_entry("guide", collection, 1.0))
    node.zadd(f"ragcore:docs:{collection}", {"guide": 1.0})
    assert main(["migrate-registry"]) == 0
    assert "moved 2 document registry key(s)" in capsys.readouterr().out
    registry = ValkeyDocumentStore(connect(lambda_env["VALKEY_URL"], timeout_seconds=5))
    assert [r.document_id for r in registry.list(collection, 0, 5)[0]] == ["guide"]
    assert main(["migrate-registry"]) == 0 and "moved 0" in capsys.readouterr().out

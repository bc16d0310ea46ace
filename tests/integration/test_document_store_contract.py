"""The document store contract (the registry ``GET /documents`` lists, the per-document lock,
saved uploads), run against real Valkey and against the in-memory fake that unit tests use,
so the fake cannot drift from the real thing. Valkey is a cluster, as ElastiCache Serverless
is: one node owning every slot (which refuses any command spanning two slots) and three."""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from ragcore.adapters.valkey_client import connect
from ragcore.adapters.valkey_documents import ValkeyDocumentStore
from ragcore.domain.documents import DocumentRecord, DocumentStatus
from tests.support.fakes import InMemoryDocumentStore
from tests.support.valkey_cluster import VALKEY_FIXTURES, keys_per_node

UNCAPPED = 1_000_000_000  # a collection cap no test here reaches, where entries are seeded


def _valkey_store(url: str) -> ValkeyDocumentStore:
    return ValkeyDocumentStore(connect(url, timeout_seconds=5), prefix=f"test:{uuid.uuid4().hex[:8]}:")


@pytest.fixture
def valkey_store(cluster_url: str) -> ValkeyDocumentStore:
    return _valkey_store(cluster_url)


@pytest.fixture(params=[*VALKEY_FIXTURES, "in-memory fake"])
def store(request: pytest.FixtureRequest) -> Any:
    if request.param == "in-memory fake":
        return InMemoryDocumentStore()
    return _valkey_store(request.getfixturevalue(VALKEY_FIXTURES[request.param]))


def record(document_id: str, collection: str = "default", job_id: str = "job-1", created_at: float = 1.0,
           status: DocumentStatus = DocumentStatus.READY, **fields: Any) -> DocumentRecord:
    return DocumentRecord(document_id=document_id, collection=collection, status=status, job_id=job_id,
                          created_at=created_at, updated_at=created_at, **fields)


def test_put_then_get_round_trips(store: Any) -> None:
    stored = record("skerry", title="Skerry Point", chunks=3)
    store.admit(stored, UNCAPPED)
    assert store.get("default", "skerry") == stored
    assert store.get("default", "missing") is None
    assert store.get("other", "skerry") is None


def test_a_list_is_one_collections_page_oldest_first_with_the_total(store: Any) -> None:
    for i in (3, 1, 4, 0, 2):
        store.admit(record(f"doc-{i}", created_at=100.0 + i), UNCAPPED)
    store.admit(record("elsewhere", collection="other"), UNCAPPED)
    page, total = store.list("default", 1, 2)
    assert [r.document_id for r in page] == ["doc-1", "doc-2"] and total == 5
    everything, _ = store.list("default", 0, 50)
    assert [r.document_id for r in everything] == [f"doc-{i}" for i in range(5)]
    assert store.list("default", 10, 5) == ([], 5)
    assert store.list("empty", 0, 5) == ([], 0)


def test_count_is_the_lists_total(store: Any) -> None:
    for i in range(3):
        store.admit(record(f"doc-{i}", created_at=100.0 + i), UNCAPPED)
    store.admit(record("doc-0", created_at=200.0), UNCAPPED)  # again: still one entry
    store.admit(record("elsewhere", collection="other"), UNCAPPED)
    store.delete("default", "doc-1")
    assert store.count("default") == store.list("default", 0, 10)[1] == 2
    assert store.count("other") == 1 and store.count("empty") == 0


def test_putting_a_document_again_replaces_its_entry_and_keeps_one_place_in_the_list(store: Any) -> None:
    store.admit(record("a", created_at=1.0), UNCAPPED)
    store.admit(record("b", created_at=2.0), UNCAPPED)
    store.admit(record("a", created_at=3.0, status=DocumentStatus.INGESTING), UNCAPPED)
    page, total = store.list("default", 0, 10)
    assert [(r.document_id, r.status) for r in page] == [("b", "ready"), ("a", "ingesting")] and total == 2


def test_delete_removes_the_entry_and_its_place_in_the_list(store: Any) -> None:
    store.admit(record("a", created_at=1.0), UNCAPPED)
    store.admit(record("b", created_at=2.0), UNCAPPED)
    store.delete("default", "a")
    store.delete("default", "never-there")
    assert store.get("default", "a") is None
    assert store.list("default", 0, 10) == ([store.get("default", "b")], 1)


def test_only_the_newest_job_may_replace_or_remove_an_entry(store: Any) -> None:
    store.admit(record("doc", job_id="newer", status=DocumentStatus.INGESTING), UNCAPPED)
    assert not store.replace_if("default", "doc", "older", record("doc", job_id="older"))
    assert store.get("default", "doc").job_id == "newer"
    done = record("doc", job_id="newer", created_at=5.0, chunks=2)
    assert store.replace_if("default", "doc", "newer", done)
    assert store.get("default", "doc") == done and store.list("default", 0, 10) == ([done], 1)
    assert not store.replace_if("default", "doc", "older", None)
    assert store.replace_if("default", "doc", "newer", None)
    assert store.get("default", "doc") is None and store.list("default", 0, 10) == ([], 0)
    assert not store.replace_if("default", "doc", "newer", None)  # nothing left to replace


def test_of_many_concurrent_replacements_only_the_owning_jobs_go_in(store: Any) -> None:
    store.admit(record("doc", job_id="owner"), UNCAPPED)
    attempts = [record("doc", job_id="owner" if i % 2 else f"other-{i}", created_at=float(i)) for i in range(20)]
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda r: store.replace_if("default", "doc", r.job_id, r), attempts))
    assert results == [i % 2 == 1 for i in range(20)]
    assert store.get("default", "doc").job_id == "owner"


def test_tenant_scoped_collections_and_every_legal_document_id(store: Any) -> None:
    odd = "a.b_c:d@e-f"
    store.admit(record(odd, collection="t0~default"), UNCAPPED)
    store.admit(record(odd, collection="t1~default", job_id="job-2"), UNCAPPED)
    assert store.get("t0~default", odd).job_id == "job-1" and store.get("t1~default", odd).job_id == "job-2"
    assert store.list("t0~default", 0, 5)[1] == 1 and store.get("default", odd) is None


def test_a_document_lock_has_one_holder_and_only_it_releases_it(store: Any) -> None:
    assert store.lock("default", "doc", "job-a", 30)
    assert store.lock("default", "doc", "job-b", 30) is False
    assert store.lock("default", "other", "job-b", 30)
    store.unlock("default", "doc", "job-b")  # not the holder: no effect
    assert store.lock("default", "doc", "job-b", 30) is False
    store.unlock("default", "doc", "job-a")
    assert store.lock("default", "doc", "job-b", 30)


def test_of_many_concurrent_lockers_exactly_one_wins(store: Any) -> None:
    with ThreadPoolExecutor(8) as pool:
        won = list(pool.map(lambda i: store.lock("default", "doc", f"job-{i}", 30), range(16)))
    assert won.count(True) == 1


def test_a_lock_runs_out_after_its_lease(valkey_store: ValkeyDocumentStore) -> None:
    assert valkey_store.lock("default", "doc", "job-a", 1)
    time.sleep(1.1)
    assert valkey_store.lock("default", "doc", "job-b", 30)


def test_a_saved_upload_is_loaded_once_saved(store: Any) -> None:
    request = {"document_id": "d", "collection": "default", "key": "uploads/x"}
    store.save_upload("u1", request, 60)
    assert store.load_upload("u1") == request and store.load_upload("u2") is None


def test_a_collections_keys_share_one_slot_and_collections_spread_over_shards(three_node_valkey_url: str) -> None:
    store = _valkey_store(three_node_valkey_url)
    client, prefix = store._client, store._prefix
    for c in range(24):
        for d in range(3):
            store.admit(record(f"doc-{d}", collection=f"c{c}", created_at=float(d)), UNCAPPED)
        slots = {client.keyslot(k) for k in client.scan_iter(match=f"{prefix}doc*:{{c{c}}}*", count=500)}
        assert len(slots) == 1  # the three entries and the index
        assert [r.document_id for r in store.list(f"c{c}", 0, 10)[0]] == ["doc-0", "doc-1", "doc-2"]
    spread = keys_per_node(client, f"{prefix}*")
    assert sum(spread.values()) == 24 * 4 and len([n for n in spread.values() if n]) >= 2


def test_admit_puts_a_document_while_its_collection_has_room_and_always_a_known_one(store: Any) -> None:
    assert store.admit(record("a", created_at=1.0), 2) and store.admit(record("b", created_at=2.0), 2)
    assert not store.admit(record("c"), 2) and store.get("default", "c") is None
    assert store.admit(record("a", created_at=1.0, status=DocumentStatus.INGESTING), 2)  # a replacement
    assert store.get("default", "a").status == "ingesting" and store.list("default", 0, 10)[1] == 2
    assert store.admit(record("c", collection="other"), 2)  # each collection has its own cap


def test_claim_collection_caps_a_tenants_new_names(store: Any) -> None:
    assert store.claim_collection("acme~a", 2, existing=False) and store.claim_collection("acme~b", 2, False)
    assert store.claim_collection("acme~a", 2, existing=False)  # known: no new place taken
    assert not store.claim_collection("acme~c", 2, existing=False)
    assert store.claim_collection("acme~c", 2, existing=True)  # it held documents before the cap
    assert store.claim_collection("bob~a", 2, existing=False)  # another tenant's own count
    assert store.claim_collection("plain", 1, existing=False) and not store.claim_collection("other", 1, False)


def test_concurrent_adds_never_pass_the_caps(valkey_store: ValkeyDocumentStore) -> None:
    """Sixteen adds racing for the last place: exactly one gets it (one script, one slot)."""
    valkey_store.admit(record("first"), 2)
    valkey_store.claim_collection("acme~first", 2, existing=False)
    with ThreadPoolExecutor(8) as pool:
        documents = list(pool.map(lambda i: valkey_store.admit(record(f"doc-{i}"), 2), range(16)))
        collections = list(pool.map(lambda i: valkey_store.claim_collection(f"acme~c{i}", 2, False), range(16)))
    assert documents.count(True) == 1 and valkey_store.list("default", 0, 10)[1] == 2
    assert collections.count(True) == 1

"""The conversation store contract, run against real Valkey (a cluster of one node and of
three, as ElastiCache Serverless is) and against the in-memory fake the unit tests use."""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from ragcore.adapters.valkey_client import connect
from ragcore.adapters.valkey_conversations import ValkeyConversationStore
from ragcore.domain.answers import Source
from ragcore.domain.conversations import Turn, TurnAdmission, new_conversation_id
from ragcore.domain.jobs import JobStatus, new_job_id
from tests.support.fakes import InMemoryConversationStore
from tests.support.valkey_cluster import VALKEY_FIXTURES

ADDED, MISSING, FULL = TurnAdmission.ADDED, TurnAdmission.MISSING, TurnAdmission.FULL


def _valkey_store(url: str) -> ValkeyConversationStore:
    return ValkeyConversationStore(connect(url, timeout_seconds=5), ttl_seconds=3600,
                                   prefix=f"test:{uuid.uuid4().hex[:8]}:")


@pytest.fixture
def valkey_store(cluster_url: str) -> ValkeyConversationStore:
    return _valkey_store(cluster_url)


@pytest.fixture(params=[*VALKEY_FIXTURES, "in-memory fake"])
def store(request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    if request.param == "in-memory fake":
        return InMemoryConversationStore()
    return _valkey_store(request.getfixturevalue(VALKEY_FIXTURES[request.param]))


def _turn(question: str = "When was it lit?") -> Turn:
    return Turn(job_id=new_job_id(), question=question, created_at=time.time())


def _opened(store: ValkeyConversationStore, owner: str | None = "tenant-a") -> tuple[str, Turn]:
    conversation_id, first = new_conversation_id(), _turn()
    assert store.add_turn(conversation_id, owner, first, new=True, max_turns=50) is ADDED
    return conversation_id, first


def test_a_new_conversation_keeps_its_owner_and_turns_in_order(store: ValkeyConversationStore) -> None:
    conversation_id, first = _opened(store)
    second = _turn("And when was it automated?")
    assert store.add_turn(conversation_id, "tenant-a", second, new=False, max_turns=50) is ADDED
    conversation = store.get(conversation_id)
    assert conversation is not None and conversation.owner == "tenant-a"
    assert [t.job_id for t in conversation.turns] == [first.job_id, second.job_id]
    assert conversation.turns[1].question == "And when was it automated?"
    assert conversation.turns[1].status is JobStatus.QUEUED and not conversation.turns[1].recorded
    assert conversation.before(second.job_id) == [first]


def test_only_its_owner_may_add_to_an_existing_conversation(store: ValkeyConversationStore) -> None:
    conversation_id, _ = _opened(store)
    assert store.add_turn(conversation_id, "tenant-b", _turn(), new=False, max_turns=50) is MISSING
    assert store.add_turn(new_conversation_id(), "tenant-a", _turn(), new=False, max_turns=50) is MISSING
    assert store.add_turn(conversation_id, None, _turn(), new=False, max_turns=50) is ADDED  # auth off
    assert len(store.get(conversation_id).turns) == 2  # type: ignore[union-attr]
    # A new conversation never takes an id in use.
    assert store.add_turn(conversation_id, "tenant-a", _turn(), new=True, max_turns=50) is MISSING


def test_a_full_conversation_refuses_a_turn_but_a_turn_is_never_added_twice(store: ValkeyConversationStore) -> None:
    conversation_id, first = _opened(store)
    second = _turn()
    assert store.add_turn(conversation_id, "tenant-a", second, new=False, max_turns=2) is ADDED
    assert store.add_turn(conversation_id, "tenant-a", _turn(), new=False, max_turns=2) is FULL
    assert store.add_turn(conversation_id, "tenant-a", second, new=False, max_turns=2) is ADDED
    assert [t.job_id for t in store.get(conversation_id).turns] == [first.job_id, second.job_id]  # type: ignore[union-attr]


def test_a_turns_outcome_is_recorded_once(store: ValkeyConversationStore) -> None:
    conversation_id, first = _opened(store)
    source = Source(n=1, chunk_id="c", document_id="d", title="T", source="s", score=1.0, snippet="x")
    done = first.model_copy(update={"status": JobStatus.FINISHED, "answer": "In 1874 [1].", "sources": [source],
                                    "standalone_query": "When was it lit?", "finished_at": time.time()})
    assert store.record(conversation_id, done)
    again = done.model_copy(update={"answer": "a second run's answer"})
    assert not store.record(conversation_id, again)
    kept = store.get(conversation_id).turns[0]  # type: ignore[union-attr]
    assert kept == done and kept.recorded
    assert not store.record(conversation_id, _turn().model_copy(update={"status": JobStatus.FAILED}))
    assert not store.record(new_conversation_id(), done)


def test_removing_a_turn_and_deleting(store: ValkeyConversationStore) -> None:
    conversation_id, first = _opened(store)
    second = _turn()
    store.add_turn(conversation_id, "tenant-a", second, new=False, max_turns=50)
    store.remove_turn(conversation_id, second.job_id)
    assert [t.job_id for t in store.get(conversation_id).turns] == [first.job_id]  # type: ignore[union-attr]
    store.remove_turn(conversation_id, first.job_id)  # its last turn: the conversation goes too
    assert store.get(conversation_id) is None
    other, _ = _opened(store)
    store.delete(other)
    assert store.get(other) is None
    assert store.add_turn(other, "tenant-a", _turn(), new=False, max_turns=50) is MISSING


def test_of_many_concurrent_turns_only_as_many_as_fit_are_added(store: ValkeyConversationStore) -> None:
    conversation_id, _ = _opened(store)
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(
            lambda _: store.add_turn(conversation_id, "tenant-a", _turn(), new=False, max_turns=5), range(20)))
    assert answers.count(ADDED) == 4 and answers.count(FULL) == 16
    assert len(store.get(conversation_id).turns) == 5  # type: ignore[union-attr]


def test_every_write_renews_the_expiry_of_all_its_keys(valkey_store: ValkeyConversationStore) -> None:
    conversation_id, first = _opened(valkey_store)
    client = valkey_store._client
    keys = valkey_store.keys(conversation_id)
    for key in keys:
        client.expire(key, 100)
    valkey_store.record(conversation_id, first.model_copy(update={"status": JobStatus.FAILED, "error": "x"}))
    assert all(3500 < client.ttl(key) <= 3600 for key in keys)
    assert len({client.keyslot(key) for key in keys}) == 1  # one hash tag: one cluster slot

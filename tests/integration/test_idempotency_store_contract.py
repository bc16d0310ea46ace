"""The idempotency store contract, on real Valkey in cluster mode (one node, which refuses a
command spanning two slots, and three) and on the in-memory fake the API tests may use: one
reservation per key however many ask at once, an answer saved only by the reservation that
holds the key, and both expiring."""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from ragcore.adapters.valkey_client import connect
from ragcore.adapters.valkey_idempotency import ValkeyIdempotencyStore
from ragcore.ports import IdempotencyStore, SavedResponse
from tests.support.fakes import InMemoryIdempotencyStore
from tests.support.valkey_cluster import VALKEY_FIXTURES

ANSWER = SavedResponse(202, (("content-type", "application/json"), ("location", "/x")), b'{"job_id": "a"}\xff')


@pytest.fixture(params=[*VALKEY_FIXTURES, "in-memory fake"])
def store(request: pytest.FixtureRequest) -> IdempotencyStore:
    if request.param == "in-memory fake":
        return InMemoryIdempotencyStore()
    client = connect(request.getfixturevalue(VALKEY_FIXTURES[request.param]), timeout_seconds=5)
    return ValkeyIdempotencyStore(client, prefix=f"test:{uuid.uuid4().hex[:8]}:")


def key() -> str:
    return uuid.uuid4().hex


def test_the_first_request_reserves_and_others_see_it_in_progress(store: IdempotencyStore) -> None:
    k = key()
    first = store.reserve(k, "fp-1", 30)
    assert first.reserved and first.fingerprint == "fp-1"
    again = store.reserve(k, "fp-1", 30)
    assert not again.reserved and again.response is None and again.fingerprint == "fp-1"
    other = store.reserve(k, "fp-2", 30)  # the fingerprint that holds it, to compare with
    assert not other.reserved and other.fingerprint == "fp-1"


def test_a_saved_answer_comes_back_byte_for_byte(store: IdempotencyStore) -> None:
    k = key()
    held = store.reserve(k, "fp", 30)
    assert store.save(k, held, ANSWER, 60)
    seen = store.reserve(k, "fp", 30)
    assert not seen.reserved and seen.response == ANSWER and seen.fingerprint == "fp"


def test_a_released_key_can_be_reserved_again(store: IdempotencyStore) -> None:
    k = key()
    store.release(k, store.reserve(k, "fp", 30))
    assert store.reserve(k, "fp-2", 30).reserved


def test_concurrent_reservations_of_one_key_make_one_winner(store: IdempotencyStore) -> None:
    k = key()
    with ThreadPoolExecutor(8) as pool:
        uses = list(pool.map(lambda _: store.reserve(k, "fp", 30), range(32)))
    assert sum(u.reserved for u in uses) == 1


def test_an_expired_reservation_frees_the_key_and_cannot_touch_the_next(store: IdempotencyStore) -> None:
    """A request that crashed (or outlived its hold) blocks its key for the hold only; when it
    comes back late, it neither saves over nor releases the reservation of the next request."""
    k = key()
    stale = store.reserve(k, "fp", 1)
    time.sleep(1.2)
    current = store.reserve(k, "fp", 30)
    assert current.reserved
    assert not store.save(k, stale, ANSWER, 60)
    store.release(k, stale)
    assert store.reserve(k, "fp", 30).response is None  # still the current one's, in progress
    assert store.save(k, current, ANSWER, 60)


def test_a_saved_answer_expires_after_its_ttl(store: IdempotencyStore) -> None:
    k = key()
    assert store.save(k, store.reserve(k, "fp", 30), ANSWER, 1)
    time.sleep(1.2)
    assert store.reserve(k, "fp", 30).reserved


def test_keys_are_independent(store: IdempotencyStore) -> None:
    a, b = key(), key()
    assert store.reserve(a, "fp", 30).reserved and store.reserve(b, "fp", 30).reserved

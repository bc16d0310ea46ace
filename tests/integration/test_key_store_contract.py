"""The key store contract (API keys by the hash of their secret, and their limits) on real
Valkey in cluster mode, as ElastiCache Serverless runs it: one node owning every slot (which
refuses any command spanning two slots) and three. Every command names one key; a record is
changed by compare-and-set, so concurrent changes all go in."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from ragcore.adapters.valkey_client import connect
from ragcore.adapters.valkey_keys import ValkeyKeyStore
from ragcore.domain.api_keys import ApiKey, GatewayKey
from tests.support.valkey_cluster import keys_per_node


@pytest.fixture
def store(cluster_url: str) -> ValkeyKeyStore:
    return ValkeyKeyStore(connect(cluster_url, timeout_seconds=5), prefix=f"test:{uuid.uuid4().hex[:8]}:")


def add(store: ValkeyKeyStore, name: str = "k", **limits: object) -> tuple[ApiKey, str]:
    key_id = uuid.uuid4().hex[:12]
    key = ApiKey(key_id=key_id, name=name, tenant=key_id, **limits)  # type: ignore[arg-type]
    key_digest = uuid.uuid4().hex
    store.add(key, key_digest)
    return key, key_digest


def test_a_key_is_found_by_its_digest_only(store: ValkeyKeyStore) -> None:
    key, key_digest = add(store, rate_per_second=2, burst=4, daily_quota=100)
    assert store.find(key_digest) == key
    assert store.find(uuid.uuid4().hex) is None


def test_the_list_holds_every_key_oldest_first_revoked_ones_too(store: ValkeyKeyStore) -> None:
    keys = [add(store, name=f"k{i}")[0] for i in range(5)]
    store.revoke(keys[2].key_id)
    listed = store.list()
    assert [k.key_id for k in listed] == [k.key_id for k in sorted(keys, key=lambda k: k.created_at)]
    assert [k.active for k in listed if k.key_id == keys[2].key_id] == [False]


def test_revoking_takes_effect_once(store: ValkeyKeyStore) -> None:
    key, key_digest = add(store)
    revoked = store.revoke(key.key_id)
    assert revoked is not None and not revoked.active
    assert store.find(key_digest) == revoked
    assert store.revoke(key.key_id) is None
    assert store.revoke("nosuchkey000") is None


def test_a_gateway_key_is_set_and_cleared(store: ValkeyKeyStore) -> None:
    key, key_digest = add(store)
    meter = GatewayKey(id="gw-1", value="v-1")
    assert store.set_gateway_key(key.key_id, meter).gateway_key == meter
    assert store.find(key_digest).gateway_key == meter
    assert store.set_gateway_key(key.key_id, None).gateway_key is None
    assert store.set_gateway_key("nosuchkey000", meter) is None


def test_concurrent_changes_to_one_record_all_go_in(store: ValkeyKeyStore) -> None:
    """A revoke racing meter changes is never overwritten (nor are they): each write is a
    compare-and-set on the value it was computed from."""
    key, key_digest = add(store)
    meters = [GatewayKey(id=f"gw-{i}", value=f"v-{i}") for i in range(24)]

    def change(i: int) -> ApiKey | None:
        return store.revoke(key.key_id) if i == 12 else store.set_gateway_key(key.key_id, meters[i])

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(change, range(24)))
    final = store.find(key_digest)
    assert final is not None and not final.active  # the revoke survived every meter write
    assert results[12] is not None and final.gateway_key in meters


def test_the_rate_limit_admits_exactly_the_burst_then_refuses(store: ValkeyKeyStore) -> None:
    key, _ = add(store, rate_per_second=0.01, burst=5)
    with ThreadPoolExecutor(8) as pool:
        admissions = list(pool.map(lambda _: store.admit(key), range(12)))
    assert sum(a.allowed for a in admissions) == 5
    refused = [a for a in admissions if not a.allowed]
    assert {a.reason for a in refused} == {"rate"} and all(a.retry_after > 0 for a in refused)


def test_the_daily_quota_runs_out(store: ValkeyKeyStore) -> None:
    key, _ = add(store, rate_per_second=1000, burst=1000, daily_quota=3)
    admissions = [store.admit(key) for _ in range(5)]
    assert [a.allowed for a in admissions] == [True, True, True, False, False]
    assert admissions[-1].reason == "quota" and 0 < admissions[-1].retry_after <= 86400


def test_keys_spread_over_shards(three_node_valkey_url: str) -> None:
    store = ValkeyKeyStore(connect(three_node_valkey_url, timeout_seconds=5), prefix=f"test:{uuid.uuid4().hex[:8]}:")
    keys = [add(store, name=f"k{i}")[0] for i in range(10)]
    for key in keys:
        store.admit(key)
    assert len(store.list()) == 10 and store.revoke(keys[0].key_id) is not None
    spread = keys_per_node(store._client, f"{store._prefix}*")
    # Per key: its record, its id's pointer and its limit counter; and the set of ids.
    assert sum(spread.values()) == 10 * 3 + 1 and len([n for n in spread.values() if n]) >= 2


def test_a_batch_takes_what_the_bucket_holds_and_says_when_the_rest_fits(store: ValkeyKeyStore) -> None:
    """``cost`` requests at once (a batch's questions): all if the bucket holds them; else as
    many as it holds, and the wait until it holds the rest (at most a burst)."""
    key, _ = add(store, rate_per_second=2, burst=8)
    whole = store.admit(key, cost=5)
    assert whole.allowed and whole.granted == 5
    part = store.admit(key, cost=20)
    assert not part.allowed and part.granted == 3 and part.reason == "rate"
    assert 3.5 < part.retry_after <= 4.0  # 8 tokens (a burst, not the 17 refused) at 2/s
    assert store.admit(key, cost=1).granted == 0


def test_concurrent_batches_never_take_more_than_the_burst(store: ValkeyKeyStore) -> None:
    key, _ = add(store, rate_per_second=0.01, burst=10)
    with ThreadPoolExecutor(8) as pool:
        admissions = list(pool.map(lambda _: store.admit(key, cost=3), range(8)))
    assert sum(a.granted for a in admissions) == 10
    assert sum(a.allowed for a in admissions) == 3  # 3 + 3 + 3, then one token for the fourth


def test_a_batch_takes_what_is_left_of_the_daily_quota(store: ValkeyKeyStore) -> None:
    key, _ = add(store, rate_per_second=1000, burst=1000, daily_quota=7)
    assert store.admit(key, cost=5).granted == 5
    rest = store.admit(key, cost=5)
    assert rest.granted == 2 and rest.reason == "quota" and 0 < rest.retry_after <= 86400
    spent = store.admit(key)
    assert not spent.allowed and spent.granted == 0 and spent.reason == "quota"

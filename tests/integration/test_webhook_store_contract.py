"""The webhook stores on a single cluster node and on a real three-node cluster: a delivery's
claim and record scripts touch only the job's slot, its state expires with the job, reads of
many jobs reach every shard, and a tenant's secrets rotate atomically."""

from __future__ import annotations

import uuid

from ragcore.adapters.valkey_client import connect
from ragcore.adapters.valkey_jobs import ValkeyJobStore
from ragcore.adapters.valkey_webhooks import ValkeyWebhookSecrets, ValkeyWebhookStore, delivery_key
from ragcore.domain.callbacks import WebhookState
from ragcore.domain.jobs import new_job


def test_one_claim_at_a_time_and_nothing_after_a_final_state(cluster_url: str) -> None:
    client = connect(cluster_url, timeout_seconds=5)
    jobs, store = ValkeyJobStore(client, ttl_seconds=600), ValkeyWebhookStore(client, ttl_seconds=900)
    job = new_job("chat", {"query": "q", "callback_url": "https://hooks.example.com/"}, 600)
    jobs.create(job)
    first = store.claim(job.job_id, "a", 30)
    assert first.granted and first.delivery.state is WebhookState.PENDING
    assert first.delivery.id == f"msg_{job.job_id}" and first.delivery.attempts == 0
    assert 590 <= client.ttl(delivery_key(job.job_id)) <= 600  # the job's, not the store's default
    assert not store.claim(job.job_id, "b", 30).granted  # held by "a"
    assert not store.record(job.job_id, "b", WebhookState.DELIVERED, 200, None)  # not b's to record
    assert store.record(job.job_id, "a", WebhookState.RETRYING, 500, "the receiver answered 500")
    second = store.claim(job.job_id, "b", 30)  # "a" let go
    assert second.granted and second.delivery.state is WebhookState.RETRYING and second.delivery.attempts == 1
    assert store.record(job.job_id, "b", WebhookState.DELIVERED, 204, None)
    final = store.claim(job.job_id, "c", 30)
    assert not final.granted and final.delivery.state is WebhookState.DELIVERED
    assert final.delivery.attempts == 2 and final.delivery.last_status == 204 and final.delivery.delivered_at


def test_an_expired_claim_can_be_taken_over(cluster_url: str) -> None:
    client = connect(cluster_url, timeout_seconds=5)
    store = ValkeyWebhookStore(client, ttl_seconds=900)
    job_id = uuid.uuid4().hex
    assert store.claim(job_id, "a", 0).granted  # no job hash: the store's own TTL
    assert 890 <= client.ttl(delivery_key(job_id)) <= 900
    assert store.claim(job_id, "b", 30).granted


def test_many_jobs_deliveries_are_read_from_every_shard(cluster_url: str) -> None:
    store = ValkeyWebhookStore(connect(cluster_url, timeout_seconds=5), ttl_seconds=600)
    job_ids = [uuid.uuid4().hex for _ in range(30)]
    for job_id in job_ids[:20]:
        store.claim(job_id, "t", 30)
    found = store.get_many(job_ids)
    assert sorted(found) == sorted(job_ids[:20])
    assert {d.state for d in found.values()} == {WebhookState.PENDING}


def test_secrets_are_made_once_and_rotate_with_a_grace_period(cluster_url: str) -> None:
    secrets = ValkeyWebhookSecrets(connect(cluster_url, timeout_seconds=5))
    tenant = f"t{uuid.uuid4().hex[:8]}"
    assert secrets.signing(tenant) == []
    first = secrets.create(tenant)
    assert first is not None and first.startswith("whsec_") and secrets.create(tenant) is None
    second = secrets.rotate(tenant, 3600)
    assert secrets.signing(tenant) == [second, first]
    third = secrets.rotate(tenant, 0)
    assert secrets.signing(tenant) == [third]
    assert secrets.signing(None) != [third]  # jobs without a tenant have their own

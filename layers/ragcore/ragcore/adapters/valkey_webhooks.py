"""Completion webhooks' state in Valkey: each job's delivery, and each tenant's signing secrets.

A job's delivery lives at ``{ragcore:job:<id>}:webhook``: its hash tag is the job hash's whole
name (``ragcore:job:<id>``), so both sit in one cluster slot and one script reads the job's
expiry to give the delivery the same. A tenant's secrets are one hash each. Every script names
one slot's keys, so the stores run unchanged on a cluster (ElastiCache Serverless).

The secrets are kept as they are, not hashed: the service needs them to sign (HMAC), as the
receiver does to verify. Valkey is reached over TLS with its own credentials in AWS.
"""

from __future__ import annotations

import base64
import secrets
import time
from typing import Any, Sequence

from ragcore.adapters.valkey_client import valkey_errors
from ragcore.adapters.valkey_jobs import JOB_KEY_PREFIX
from ragcore.domain.callbacks import WebhookDelivery, WebhookState, webhook_id
from ragcore.ports import WebhookClaim

_FIELDS = ("id", "state", "attempts", "last_status", "last_error", "delivered_at")

# KEYS: the delivery, the job. ARGV: the webhook id, the token, the claim's seconds, the TTL to
# use if the job has none. Answers {granted, the delivery's fields}.
_CLAIM_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local state = redis.call('HGET', KEYS[1], 'state')
if not state then
  state = 'pending'
  redis.call('HSET', KEYS[1], 'id', ARGV[1], 'state', state, 'attempts', 0)
  local ttl = redis.call('PTTL', KEYS[2])
  if ttl > 0 then redis.call('PEXPIRE', KEYS[1], ttl) else redis.call('EXPIRE', KEYS[1], ARGV[4]) end
end
local granted = 0
if state ~= 'delivered' and state ~= 'failed' then
  local holder = redis.call('HGET', KEYS[1], 'claim')
  local held_until = tonumber(redis.call('HGET', KEYS[1], 'claim_until') or '') or 0
  if not holder or holder == '' or holder == ARGV[2] or held_until <= now then
    redis.call('HSET', KEYS[1], 'claim', ARGV[2], 'claim_until', tostring(now + tonumber(ARGV[3])))
    granted = 1
  end
end
return {granted, unpack(redis.call('HMGET', KEYS[1], %(fields)s))}
""" % {"fields": ", ".join(f"'{f}'" for f in _FIELDS)}

# KEYS: the delivery. ARGV: the token, the state, the receiver's status ('' for none), the error.
_RECORD_LUA = """
if redis.call('HGET', KEYS[1], 'claim') ~= ARGV[1] then return 0 end
redis.call('HINCRBY', KEYS[1], 'attempts', 1)
redis.call('HSET', KEYS[1], 'state', ARGV[2], 'last_status', ARGV[3], 'last_error', ARGV[4],
           'claim', '', 'claim_until', '')
if ARGV[2] == 'delivered' then
  local t = redis.call('TIME')
  redis.call('HSET', KEYS[1], 'delivered_at', tostring(tonumber(t[1]) + tonumber(t[2]) / 1000000))
end
return 1
"""


def delivery_key(job_id: str) -> str:
    return "{" + JOB_KEY_PREFIX + job_id + "}:webhook"


def _delivery(values: list[Any]) -> WebhookDelivery | None:
    record = dict(zip(_FIELDS, values))
    if not record.get("state"):
        return None
    return WebhookDelivery(
        id=record["id"], state=WebhookState(record["state"]), attempts=int(record["attempts"] or 0),
        last_status=int(record["last_status"]) if record["last_status"] else None,
        last_error=record["last_error"] or None,
        delivered_at=float(record["delivered_at"]) if record["delivered_at"] else None,
    )


class ValkeyWebhookStore:
    """Implements ``ports.WebhookStore``."""

    def __init__(self, client: Any, ttl_seconds: int) -> None:
        self._client = client
        self._ttl = ttl_seconds
        self._claim = client.register_script(_CLAIM_LUA)
        self._record = client.register_script(_RECORD_LUA)

    def get_many(self, job_ids: Sequence[str]) -> dict[str, WebhookDelivery]:
        with valkey_errors():
            pipe = self._client.pipeline(transaction=False)
            for job_id in job_ids:
                pipe.hmget(delivery_key(job_id), _FIELDS)
            rows = pipe.execute()
        found = {job_id: _delivery(values) for job_id, values in zip(job_ids, rows)}
        return {job_id: delivery for job_id, delivery in found.items() if delivery is not None}

    def claim(self, job_id: str, token: str, seconds: int) -> WebhookClaim:
        with valkey_errors():
            reply = self._claim(keys=[delivery_key(job_id), JOB_KEY_PREFIX + job_id],
                                args=[webhook_id(job_id), token, seconds, self._ttl])
        delivery = _delivery(reply[1:])
        assert delivery is not None  # the script writes one first
        return WebhookClaim(delivery=delivery, granted=reply[0] == 1)

    def record(self, job_id: str, token: str, state: WebhookState, status: int | None, error: str | None) -> bool:
        with valkey_errors():
            return self._record(keys=[delivery_key(job_id)],
                                args=[token, state.value, "" if status is None else status, error or ""]) == 1


SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32  # Standard Webhooks: 24 to 64 random bytes

# KEYS: the tenant's secrets. ARGV: the new secret, the grace seconds.
_ROTATE_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local old = redis.call('HGET', KEYS[1], 'current')
redis.call('HSET', KEYS[1], 'current', ARGV[1])
if old then
  redis.call('HSET', KEYS[1], 'previous', old, 'previous_until', tostring(now + tonumber(ARGV[2])))
end
return 1
"""


def secrets_key(tenant: str | None) -> str:
    """One hash per tenant; ``-`` (never a tenant name) for jobs without one (auth off)."""
    return f"ragcore:webhook-secret:{tenant or '-'}"


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


class ValkeyWebhookSecrets:
    """Implements ``ports.WebhookSecrets``."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self._rotate = client.register_script(_ROTATE_LUA)

    def create(self, tenant: str | None) -> str | None:
        secret = new_secret()
        with valkey_errors():
            made = self._client.hsetnx(secrets_key(tenant), "current", secret)
        return secret if made else None

    def rotate(self, tenant: str | None, grace_seconds: int) -> str:
        secret = new_secret()
        with valkey_errors():
            self._rotate(keys=[secrets_key(tenant)], args=[secret, grace_seconds])
        return secret

    def signing(self, tenant: str | None) -> list[str]:
        with valkey_errors():
            current, previous, until = self._client.hmget(
                secrets_key(tenant), ["current", "previous", "previous_until"])
        kept = [current] if current else []
        if previous and until and float(until) > time.time():
            kept.append(previous)
        return kept

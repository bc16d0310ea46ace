"""API keys and their rate-limit counters in Valkey.

The limit check is one Lua script over one hash per key (a token bucket plus a daily counter),
so concurrent requests on any number of API instances are admitted exactly: no two can take
the same token. Time is the server's.

Every command and script names one key, so the store runs unchanged on a cluster (ElastiCache
Serverless): ``list`` reads key by key, and a record is changed by compare-and-set.
"""

from __future__ import annotations

import time
from typing import Any, Callable

from ragcore.adapters.valkey_client import valkey_errors
from ragcore.domain.api_keys import ApiKey, GatewayKey
from ragcore.ports import Admission

# ARGV: rate, burst, quota (0: none), cost. Takes as many of ``cost`` requests as the bucket
# and the day's quota allow; answers {granted, retry_after, reason}, where retry_after is when
# the bucket will hold the rest (at most a burst) or the quota renews.
_ADMIT_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local rate, burst, quota = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local cost = tonumber(ARGV[4])
local day = math.floor(now / 86400)
local s = redis.call('HMGET', KEYS[1], 'tokens', 'ts', 'day', 'used')
local tokens = tonumber(s[1]) or burst
local ts = tonumber(s[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - ts) * rate)
local used = tonumber(s[4]) or 0
if tonumber(s[3]) ~= day then used = 0 end
local granted, reason = cost, ''
if quota > 0 and quota - used < granted then granted, reason = math.max(0, quota - used), 'quota' end
if granted > math.floor(tokens) then granted, reason = math.floor(tokens), 'rate' end
if granted > 0 then
  redis.call('HSET', KEYS[1], 'tokens', tostring(tokens - granted), 'ts', tostring(now),
             'day', tostring(day), 'used', tostring(used + granted))
  redis.call('EXPIRE', KEYS[1], 172800)
end
if granted == cost then return {granted, '0', ''} end
if reason == 'quota' then return {granted, tostring((day + 1) * 86400 - now), reason} end
local wanted = math.min(cost - granted, burst)
return {granted, tostring((wanted - (tokens - granted)) / rate), reason}
"""
# Write ARGV[2] only if the key still holds ARGV[1], the value the change was computed from.
_SWAP_LUA = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2])
return 1
"""


class ValkeyKeyStore:
    """Implements ``ports.KeyStore``."""

    def __init__(self, client: Any, prefix: str = "ragcore:") -> None:
        """``client``: ``valkey.Valkey`` or ``valkey.cluster.ValkeyCluster``."""
        self._client = client
        self._prefix = prefix
        self._admit = client.register_script(_ADMIT_LUA)
        self._swap = client.register_script(_SWAP_LUA)

    def add(self, key: ApiKey, key_digest: str) -> None:
        with valkey_errors():
            pipe = self._client.pipeline(transaction=False)
            pipe.set(f"{self._prefix}key:{key_digest}", key.model_dump_json())
            pipe.set(f"{self._prefix}key-id:{key.key_id}", key_digest)
            pipe.sadd(f"{self._prefix}keys", key.key_id)
            pipe.execute()

    def find(self, key_digest: str) -> ApiKey | None:
        with valkey_errors():
            raw = self._client.get(f"{self._prefix}key:{key_digest}")
        return ApiKey.model_validate_json(raw) if raw else None

    def list(self) -> list[ApiKey]:
        with valkey_errors():
            ids = sorted(self._client.smembers(f"{self._prefix}keys"))
            # One GET per key, not MGET: the keys live in different cluster slots (ElastiCache
            # Serverless), and listing keys is an operator's rare call.
            digests = [self._client.get(f"{self._prefix}key-id:{key_id}") for key_id in ids]
            found = [self.find(d) for d in digests if d]
        return sorted((k for k in found if k), key=lambda k: k.created_at)

    def revoke(self, key_id: str) -> ApiKey | None:
        return self._change(key_id, lambda key: key.model_copy(update={"revoked_at": time.time()})
                            if key.active else None)

    def set_gateway_key(self, key_id: str, gateway_key: GatewayKey | None) -> ApiKey | None:
        return self._change(key_id, lambda key: key.model_copy(update={"gateway_key": gateway_key}))

    def _change(self, key_id: str, change: Callable[[ApiKey], ApiKey | None]) -> ApiKey | None:
        """Reads, changes and writes one record atomically: the write is a compare-and-set on
        the value read, so a concurrent write (a revoke racing a new meter) makes this one
        read again and retry instead of being overwritten. (Not WATCH/MULTI: the cluster
        client has no transactions.) None: no such record, or ``change`` declined."""
        with valkey_errors():
            key_digest = self._client.get(f"{self._prefix}key-id:{key_id}")
            if not key_digest:
                return None
            name = f"{self._prefix}key:{key_digest}"
            while True:  # each lost race means another writer's change went in
                raw = self._client.get(name)
                changed = change(ApiKey.model_validate_json(raw)) if raw else None
                if changed is None:
                    return None
                if self._swap(keys=[name], args=[raw, changed.model_dump_json()]):
                    return changed

    def admit(self, key: ApiKey, cost: int = 1) -> Admission:
        args = [key.rate_per_second, key.burst, key.daily_quota or 0, cost]
        with valkey_errors():
            granted, retry_after, reason = self._admit(keys=[f"{self._prefix}limit:{key.key_id}"], args=args)
        return Admission(allowed=granted == cost, retry_after=float(retry_after), reason=reason, granted=granted)

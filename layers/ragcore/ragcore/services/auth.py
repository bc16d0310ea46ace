"""Who is calling, and may they spend more: API keys and their limits."""

from __future__ import annotations

import math

from ragcore.domain.api_keys import ApiKey, digest, looks_like_a_key, new_key
from ragcore.domain.errors import RagError
from ragcore.ports import KeyStore


class UnauthorizedError(RagError):
    """No key, an unknown key, or a revoked one: the same answer for all three, so a caller
    learns nothing about which keys exist."""


class RateLimitedError(RagError):
    def __init__(self, reason: str, retry_after: float) -> None:
        what = "daily quota used up" if reason == "quota" else "too many requests"
        super().__init__(f"{what}; retry after {math.ceil(retry_after)} s")
        self.reason = reason
        self.retry_after = retry_after


UNAUTHORIZED = "send a valid API key as 'Authorization: Bearer <key>' or 'x-api-key'"


def authenticate(presented: str | None, keys: KeyStore, pepper: str) -> ApiKey:
    if not presented or not looks_like_a_key(presented):
        raise UnauthorizedError(UNAUTHORIZED)
    key = keys.find(digest(presented, pepper))
    if key is None or not key.active:
        raise UnauthorizedError(UNAUTHORIZED)
    return key


def admit(key: ApiKey, keys: KeyStore) -> None:
    admission = keys.admit(key)
    if not admission.allowed:
        raise RateLimitedError(admission.reason, admission.retry_after)


def create_key(
    keys: KeyStore, pepper: str, name: str, tenant: str | None = None, rate_per_second: float = 5.0,
    burst: int = 20, daily_quota: int | None = None,
) -> tuple[ApiKey, str]:
    """Returns the record and the key itself, which is shown once and never stored."""
    key_id, secret = new_key()
    record = ApiKey(key_id=key_id, name=name, tenant=tenant or key_id, rate_per_second=rate_per_second,
                    burst=burst, daily_quota=daily_quota)
    keys.add(record, digest(secret, pepper))
    return record, secret

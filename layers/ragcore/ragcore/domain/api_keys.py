"""API keys: what a client presents, what is stored of it, and its limits.

A key is ``rk_<key_id>_<secret>``. Only a keyed hash (HMAC-SHA256 with a server-side pepper) is
stored, so a copy of Valkey does not let anyone call the API; ``key_id`` is public and names
the key in lists, logs and job records.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

from pydantic import BaseModel, Field

from ragcore.domain.tenancy import TenantName

KEY_PREFIX = "rk_"


class GatewayKey(BaseModel):
    id: str  # to delete it
    value: str  # what the authorizer returns as usageIdentifierKey


class ApiKey(BaseModel):
    key_id: str
    name: str
    # Keys with the same tenant share jobs and collections; by default a key is its own tenant.
    # Lower-case letters, digits and hyphens (at most 32): it becomes part of collection names.
    tenant: TenantName
    created_at: float = Field(default_factory=time.time)
    revoked_at: float | None = None
    rate_per_second: float = Field(default=5.0, gt=0, le=10_000)
    burst: int = Field(default=20, ge=1)
    daily_quota: int | None = Field(default=None, ge=1)
    # In AWS, the API Gateway key that meters this key in the usage plan (the edge throttle).
    # Not a credential: the gateway takes it only from the authorizer, never from a client.
    gateway_key: GatewayKey | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


def new_key() -> tuple[str, str]:
    """(key_id, the full key to show once)."""
    key_id = secrets.token_hex(6)
    return key_id, f"{KEY_PREFIX}{key_id}_{secrets.token_urlsafe(32)}"


def digest(key: str, pepper: str) -> str:
    return hmac.new(pepper.encode(), key.encode(), hashlib.sha256).hexdigest()


def looks_like_a_key(value: str) -> bool:
    return value.startswith(KEY_PREFIX) and value.count("_") >= 2 and len(value) < 200

"""Who is calling, and may they spend more: API keys and their limits."""

from __future__ import annotations

from ragcore.domain.api_keys import ApiKey, digest, looks_like_a_key, new_key
from ragcore.domain.errors import RateLimitedError, UnauthorizedError
from ragcore.ports import GatewayKeys, KeyStore
from ragcore.services.meters import withdraw_meter


UNAUTHORIZED = "send a valid API key as 'Authorization: Bearer <key>' or 'x-api-key'"


def presented_key(authorization: str | None, x_api_key: str | None) -> str | None:
    """Bearer, else x-api-key; an Authorization header of another scheme is a wrong key, not
    a reason to look elsewhere. Shared by the API and the gateway's authorizer, so both read a
    request the same way."""
    if authorization is not None:
        scheme, _, token = authorization.partition(" ")
        return token.strip() if scheme.lower() == "bearer" else None
    return x_api_key


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


def admit_questions(key: ApiKey | None, keys: KeyStore, wanted: int) -> tuple[int, RateLimitedError | None]:
    """How many of a batch's ``wanted`` questions the key pays for (the first ones), and the
    refusal of the rest: a batch costs what as many ``POST /chat`` would. The request's own
    check (``admit``) paid for the first. Tokens are taken before the questions are recorded,
    so a question later refused for its conversation (404, 409) has cost one, as that single
    ``POST /chat`` would have. None: auth off."""
    if key is None or wanted <= 1:
        return wanted, None
    admission = keys.admit(key, cost=wanted - 1)
    refusal = None if admission.allowed else RateLimitedError(admission.reason, admission.retry_after)
    return 1 + admission.granted, refusal


def create_key(
    keys: KeyStore, pepper: str, name: str, tenant: str | None = None, rate_per_second: float = 5.0,
    burst: int = 20, daily_quota: int | None = None, gateway: GatewayKeys | None = None,
) -> tuple[ApiKey, str]:
    """Returns the record and the key itself, which is shown once and never stored. With a
    ``gateway`` (AWS), the key also gets its meter in the usage plan, issued first and taken
    back if the record cannot be stored, so neither side holds a key the other lacks."""
    key_id, secret = new_key()
    gateway_key = gateway.issue(key_id) if gateway else None
    record = ApiKey(key_id=key_id, name=name, tenant=tenant or key_id, rate_per_second=rate_per_second,
                    burst=burst, daily_quota=daily_quota, gateway_key=gateway_key)
    try:
        keys.add(record, digest(secret, pepper))
    except Exception:
        if gateway and gateway_key:
            withdraw_meter(gateway, record)
        raise
    return record, secret


def revoke_key(keys: KeyStore, key_id: str, gateway: GatewayKeys | None = None) -> ApiKey | None:
    """Refused by the API and the authorizer as soon as the record says so; then its meter
    goes. The record returned still names the meter if that failed (``reconcile_meters``
    retries it)."""
    revoked = keys.revoke(key_id)
    if revoked is None or revoked.gateway_key is None or gateway is None:
        return revoked
    if not withdraw_meter(gateway, revoked):
        return revoked
    return keys.set_gateway_key(key_id, None) or revoked

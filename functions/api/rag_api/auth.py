"""Who is calling: every route but health needs an API key, and each request spends one token
of the key's rate limit and daily quota."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from ragcore.bootstrap import Container, get_container
from ragcore.domain.api_keys import ApiKey
from ragcore.domain.errors import JobNotFoundError
from ragcore.domain.jobs import Job
from ragcore.services.auth import admit, authenticate


def caller(request: Request, container: Annotated[Container, Depends(get_container)]) -> ApiKey | None:
    """None only when auth is off (``AUTH_DISABLED``, local development)."""
    pepper = container.api_key_pepper  # also refuses AUTH_DISABLED inside Lambda
    if container.settings.auth_disabled:
        return None
    key = authenticate(_presented(request), container.key_store, pepper)
    admit(key, container.key_store)
    return key


def _presented(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return request.headers.get("x-api-key")


Caller = Annotated[ApiKey | None, Depends(caller)]


def owner_of(key: ApiKey | None) -> str | None:
    return key.tenant if key else None


def visible(job: Job, key: ApiKey | None) -> Job:
    """Another tenant's job is answered as missing (404), never as forbidden: a caller must
    not learn that an id exists."""
    if key is not None and job.owner != key.tenant:
        raise JobNotFoundError(job.job_id)
    return job

"""Who is calling: every route but health needs an API key, and each request spends one token
of the key's rate limit and daily quota. What a caller may see: its tenant's jobs, and its
tenant's collections (``ragcore.domain.tenancy``)."""

from __future__ import annotations

from typing import Annotated, Any, Mapping, Protocol, Self, TypeVar

from fastapi import Depends, Request

from ragcore.bootstrap import Container, get_container
from ragcore.domain.api_keys import ApiKey
from ragcore.domain.tenancy import scoped, unscoped
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
    """Bearer, else x-api-key; an Authorization header of another scheme is a wrong key, not
    a reason to look elsewhere."""
    authorization = request.headers.get("authorization")
    if authorization is not None:
        scheme, _, token = authorization.partition(" ")
        return token.strip() if scheme.lower() == "bearer" else None
    return request.headers.get("x-api-key")


Caller = Annotated[ApiKey | None, Depends(caller)]


def owner_of(key: ApiKey | None) -> str | None:
    return key.tenant if key else None


def scope(collection: str, key: ApiKey | None) -> str:
    """The internal name of the caller's ``collection``: its tenant's own (the name itself with
    auth off). Every route turns a client's collection into this before it touches data."""
    return scoped(owner_of(key), collection)


class _InACollection(Protocol):
    collection: str

    def model_copy(self, *, update: Mapping[str, Any] | None = None) -> Self: ...


M = TypeVar("M", bound=_InACollection)


def in_scope(model: M, key: ApiKey | None) -> M:
    """A client's request with its collection replaced by ``scope``'s name. Not re-validated
    as the client's type, which refuses internal names; the models that read it back later
    (``ChatJob``, ``SavedUpload``, ``IngestRequest``) accept them."""
    return model.model_copy(update={"collection": scope(model.collection, key)})


def as_shown(model: M, key: ApiKey | None) -> M:
    """A response with its collection as the caller named it, never the internal name."""
    return model.model_copy(update={"collection": unscoped(owner_of(key), model.collection)})

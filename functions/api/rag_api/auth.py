"""Who is calling: every keyed route needs an API key, and each request spends one token of
the key's rate limit and daily quota. What a caller may see: its tenant's jobs, and its
tenant's collections (``ragcore.domain.tenancy``)."""

from __future__ import annotations

from typing import Annotated, Any, Mapping, Protocol, Self, Sequence, TypeVar

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPBearer
from starlette.datastructures import Headers
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Receive, Scope, Send

from ragcore.bootstrap import get_container
from ragcore.domain.api_keys import ApiKey
from ragcore.domain.errors import RagError, UnauthorizedError
from ragcore.domain.tenancy import scoped, unscoped
from ragcore.services.auth import UNAUTHORIZED, admit, authenticate, presented_key

from .errors import core_error_response

_CALLER = "ragcore_caller"  # in the request state

# Declares the two ways to send a key in the OpenAPI document (and /docs' Authorize button).
# They check nothing: ``RequireKey`` has done that before the route runs.
KEY_SCHEMES = [
    Depends(HTTPBearer(auto_error=False, description="Authorization: Bearer <key>")),
    Depends(APIKeyHeader(name="x-api-key", auto_error=False, description="the key itself")),
]


class RequireKey:
    """Checks the key of every request but those for the public routes, before anything reads
    its body: a caller without a valid key learns nothing from a body error (or from which
    paths exist) and spends no parsing; and each request is admitted against the key's
    limits, so a flood of refused bodies still costs tokens. Closed by default: a route added
    anywhere needs a key unless it is listed as public."""

    def __init__(self, app: ASGIApp, public_routes: Sequence[BaseRoute]) -> None:
        self.app = app
        self.public_routes = public_routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not self._public(scope):
            try:
                # Blocking, on the loop itself: see routes.py for why that is right here.
                scope.setdefault("state", {})[_CALLER] = _check(Headers(scope=scope))
            except RagError as exc:
                await core_error_response(exc)(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def _public(self, scope: Scope) -> bool:
        return any(route.matches(scope)[0] is Match.FULL for route in self.public_routes)


def _check(headers: Headers) -> ApiKey | None:
    """None only when auth is off (``AUTH_DISABLED``, local development)."""
    container = get_container()
    pepper = container.api_key_pepper  # also refuses AUTH_DISABLED inside Lambda
    if container.settings.auth_disabled:
        return None
    key = authenticate(presented_key(headers.get("authorization"), headers.get("x-api-key")),
                       container.key_store, pepper)
    admit(key, container.key_store)
    return key


async def caller(request: Request) -> ApiKey | None:
    """The key ``RequireKey`` admitted for this request (None with auth off). A route that
    asks for its caller but was let through as public refuses rather than serve anyone."""
    try:
        return getattr(request.state, _CALLER)
    except AttributeError:
        raise UnauthorizedError(UNAUTHORIZED) from None


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

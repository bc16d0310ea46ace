"""Collections per tenant: the name a client uses and the name the service stores it under.

A client names a collection (``default``, ``manuals``); with API keys on, the API stores it as
``<tenant>~<collection>``, so the document registry, the vector index and a chat's retrieval
are each the tenant's own, and two tenants can both have a ``default``. Keys share data only
by sharing a tenant. With auth off there is no tenant and names are used as they are.

Neither a tenant nor a client's collection name can hold ``~``, so a scoped name splits one
way only and never equals an unscoped one. ``~`` is also fine in a directory name (the
embedded Qdrant), a Qdrant collection name, a URL path and a Valkey key.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import StringConstraints

SEPARATOR = "~"
_TENANT = r"[a-z0-9][a-z0-9-]{0,31}"  # a key's id (12 hex characters) is one
_COLLECTION = r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}"
TENANT_PATTERN = re.compile(f"^{_TENANT}$")
COLLECTION_PATTERN = re.compile(f"^{_COLLECTION}$")
SCOPED_PATTERN = re.compile(f"^(?:{_TENANT}{SEPARATOR})?{_COLLECTION}$")

TenantName = Annotated[str, StringConstraints(pattern=TENANT_PATTERN.pattern)]
# What a client sends and sees.
CollectionName = Annotated[str, StringConstraints(pattern=COLLECTION_PATTERN.pattern)]
# What the API hands on (job requests, saved uploads): a client's name, scoped or not.
ScopedCollection = Annotated[str, StringConstraints(pattern=SCOPED_PATTERN.pattern)]


def scoped(tenant: str | None, collection: str) -> str:
    """The internal name of ``tenant``'s ``collection``; ``tenant`` None (auth off): the name."""
    if not COLLECTION_PATTERN.fullmatch(collection):
        raise ValueError(f"not a collection name: {collection!r}")
    if tenant is None:
        return collection
    if not TENANT_PATTERN.fullmatch(tenant):
        raise ValueError(f"not a tenant name: {tenant!r}")
    return f"{tenant}{SEPARATOR}{collection}"


def split(name: str) -> tuple[str | None, str]:
    """(tenant or None, the client's collection name) of an internal name."""
    tenant, separator, collection = name.partition(SEPARATOR)
    return (tenant, collection) if separator else (None, name)


def unscoped(tenant: str | None, name: str) -> str:
    """``scoped``'s inverse: the name ``tenant``'s clients know. A name with no tenant part (made
    with auth off or before scoping) is shown as it is, and so is every name with auth off;
    another tenant's name is a bug, never shown."""
    owner, collection = split(name)
    if tenant is None or owner is None:
        return name
    if owner != tenant:
        raise ValueError(f"collection {name!r} is not in tenant {tenant!r}'s scope")
    return collection

"""Collection names per tenant: the mapping, its inverse, and which models accept which names."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from ragcore.domain.api_keys import ApiKey
from ragcore.domain.errors import DocumentNotFoundError
from ragcore.domain.messages import ChatJob, ChatRequest, DeleteRequest, DocumentFields, SavedUpload
from ragcore.domain.tenancy import COLLECTION_PATTERN, SCOPED_PATTERN, TENANT_PATTERN, scoped, split, unscoped

tenants = st.from_regex(TENANT_PATTERN, fullmatch=True)
collections = st.from_regex(COLLECTION_PATTERN, fullmatch=True)


@given(tenants, collections, tenants, collections)
def test_scoped_names_are_distinct_per_tenant_and_map_back(t1: str, c1: str, t2: str, c2: str) -> None:
    name = scoped(t1, c1)
    assert SCOPED_PATTERN.fullmatch(name) and not COLLECTION_PATTERN.fullmatch(name)
    assert unscoped(t1, name) == c1 and split(name) == (t1, c1)
    assert (name == scoped(t2, c2)) == ((t1, c1) == (t2, c2))
    assert name != c2  # never a name used with auth off


def test_with_auth_off_names_are_unchanged() -> None:
    assert scoped(None, "default") == "default" and unscoped(None, "default") == "default"
    assert unscoped("3f2a9c1be0d4", "default") == "default"  # made before scoping: shown as it is
    assert unscoped(None, "3f2a9c1be0d4~default") == "3f2a9c1be0d4~default"


def test_another_tenants_name_is_never_shown() -> None:
    with pytest.raises(ValueError):
        unscoped("bob", scoped("alice", "default"))


@pytest.mark.parametrize(("tenant", "collection"), [
    ("Alice", "default"), ("a~b", "default"), ("-a", "default"), ("a" * 33, "default"), ("", "default"),
    ("alice", "a~b"), ("alice", "a.b"), ("alice", ""), ("alice", "x" * 65), ("alice", "default\n"),
])
def test_scoped_refuses_what_could_not_be_split_again(tenant: str, collection: str) -> None:
    with pytest.raises(ValueError):
        scoped(tenant, collection)


def test_clients_send_only_plain_names_and_the_internal_models_take_scoped_ones() -> None:
    name = scoped("3f2a9c1be0d4", "default")
    for build in (lambda: ChatRequest(query="hi", collection=name), lambda: DocumentFields(collection=name)):
        with pytest.raises(ValidationError):
            build()
    assert ChatJob(query="hi", collection=name).collection == name
    assert SavedUpload(filename="a.md", content_type="text/markdown", collection=name).collection == name
    assert DeleteRequest(collection=name, document_id="d").collection == name
    with pytest.raises(ValidationError):
        DeleteRequest(collection="../etc", document_id="d")


@pytest.mark.parametrize("tenant", ["UPPER", "a.b", "a~b", "a b", "", "x" * 33])
def test_a_key_tenant_must_fit_in_a_collection_name(tenant: str) -> None:
    with pytest.raises(ValidationError):
        ApiKey(key_id="3f2a9c1be0d4", name="k", tenant=tenant)


def test_not_found_shows_the_clients_collection_name() -> None:
    message = str(DocumentNotFoundError(scoped("alice", "manuals"), "doc"))
    assert "'manuals'" in message and "alice" not in message

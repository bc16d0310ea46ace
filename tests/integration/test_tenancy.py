"""Tenants over real HTTP with keys on: two keys' jobs, documents and retrieval stay apart, a
key sharing a tenant sees that tenant's, and clients only ever see their own collection names.
The worker runs (as in ``test_documents``): real Valkey, LocalStack SQS and S3, the embedded
Qdrant engine and the real embedder; the LLM is a fake, so answers are checked by sources."""

from __future__ import annotations

from typing import Any, Callable, Iterator

import httpx
import pytest

from ragcore.bootstrap import get_container
from ragcore.domain.api_keys import ApiKey
from ragcore.domain.tenancy import scoped
from ragcore.services.auth import create_key
from tests.integration.test_documents import LIGHTHOUSE, api, settle  # noqa: F401 (api: a fixture)
from tests.support.documents import make_pdf
from tests.support.settings import Configure

BREAD = "# Sourdough\n\nA sourdough starter wants rye flour and water every day."
LIGHTHOUSE_QUESTION = "When was Skerry Point lighthouse first lit?"

Client = Callable[..., tuple[httpx.Client, ApiKey]]


@pytest.fixture
def keys_on(configure: Configure) -> None:
    configure(auth_disabled=False)


@pytest.fixture
def client(keys_on: None, api: httpx.Client) -> Iterator[Client]:  # noqa: F811 (api: the fixture)
    """A new key and an HTTP client that sends it on every request (``settle`` polls with it)."""
    opened: list[httpx.Client] = []

    def make(name: str, tenant: str | None = None) -> tuple[httpx.Client, ApiKey]:
        container = get_container()
        record, secret = create_key(container.key_store, container.api_key_pepper, name, tenant=tenant)
        opened.append(httpx.Client(base_url=api.base_url, timeout=30,
                                   headers={"Authorization": f"Bearer {secret}"}))
        return opened[-1], record

    yield make
    for each in opened:
        each.close()


def ids(listing: httpx.Response) -> list[str]:
    assert listing.status_code == 200, listing.text
    return [d["document_id"] for d in listing.json()["documents"]]


def cited(http: httpx.Client, query: str, collection: str = "default") -> set[str]:
    result = settle(http, http.post("/chat", json={"query": query, "collection": collection, "top_k": 10}))
    assert "sources" in result, result
    return {s["document_id"] for s in result["sources"]}


def test_isolation_of_jobs_documents_and_retrieval_between_two_keys(client: Client) -> None:
    alice, alice_key = client("alice")
    bob, bob_key = client("bob")
    accepted = alice.post("/documents", json={"text": LIGHTHOUSE, "document_id": "skerry"})
    assert accepted.json()["collection"] == "default"
    assert accepted.json()["document"].endswith("/documents/skerry?collection=default")
    ingested = settle(alice, accepted)
    assert ingested["action"] == "created" and ingested["collection"] == "default", ingested
    multipart = {"files": {"file": ("bread.md", BREAD.encode(), "text/markdown")},
                 "data": {"document_id": "bread", "collection": "default"}}
    ingested = settle(bob, bob.post("/documents", **multipart))
    assert ingested["action"] == "created" and ingested["collection"] == "default", ingested

    # Listing and reading: each sees only its own, under the name it used.
    assert ids(bob.get("/documents")) == ["bread"] and bob.get("/documents").json()["total"] == 1
    assert ids(alice.get("/documents", params={"collection": "default"})) == ["skerry"]
    assert {d["collection"] for d in bob.get("/documents").json()["documents"]} == {"default"}
    hidden = bob.get("/documents/skerry")
    assert hidden.status_code == 404 and hidden.json()["error"]["code"] == "document_not_found"
    assert "~" not in hidden.text and alice_key.tenant not in hidden.text
    mine = alice.get("/documents/skerry")
    assert mine.status_code == 200 and mine.json()["collection"] == "default"

    # Deleting another tenant's document: not found, and it stays.
    refused = bob.delete("/documents/skerry")
    assert refused.status_code == 404 and refused.json()["error"]["code"] == "document_not_found"
    assert alice.get("/documents/skerry").json()["status"] == "ready"

    # Retrieval: the same question finds only the asker's own passages.
    assert cited(bob, LIGHTHOUSE_QUESTION) == {"bread"}
    assert cited(alice, LIGHTHOUSE_QUESTION) == {"skerry"}

    # The internal names: one registry entry and one index collection per tenant.
    documents = get_container().document_store
    assert documents.get(scoped(alice_key.tenant, "default"), "skerry") is not None
    assert documents.get(scoped(bob_key.tenant, "default"), "skerry") is None
    assert documents.get("default", "skerry") is None and documents.list("default", 0, 10) == ([], 0)


def test_a_key_sharing_a_tenant_sees_its_documents_and_jobs(client: Client) -> None:
    alice, alice_key = client("alice")
    alice_ci, _ = client("alice-ci", tenant=alice_key.tenant)
    bob, _ = client("bob")
    document = {"text": LIGHTHOUSE, "document_id": "skerry", "collection": "manuals"}
    accepted = alice.post("/documents", json=document)
    settle(alice, accepted)
    job_id = accepted.json()["job_id"]
    shared = alice_ci.get(f"/result/{job_id}")
    assert shared.status_code == 200 and shared.json()["collection"] == "manuals"
    assert bob.get(f"/result/{job_id}").status_code == 404
    assert ids(alice_ci.get("/documents", params={"collection": "manuals"})) == ["skerry"]
    record = alice_ci.get("/documents/skerry", params={"collection": "manuals"}).json()
    assert record["collection"] == "manuals" and record["status"] == "ready"
    assert ids(bob.get("/documents", params={"collection": "manuals"})) == []
    assert cited(alice_ci, LIGHTHOUSE_QUESTION, collection="manuals") == {"skerry"}
    assert cited(bob, LIGHTHOUSE_QUESTION, collection="manuals") == set()
    deleted = settle(alice_ci, alice_ci.delete("/documents/skerry", params={"collection": "manuals"}))
    assert deleted["action"] == "deleted" and deleted["collection"] == "manuals"
    assert alice.get("/documents/skerry", params={"collection": "manuals"}).status_code == 404


def test_an_upload_goes_to_the_callers_collection_and_only_its_tenant_completes_it(client: Client) -> None:
    alice, _ = client("alice")
    bob, _ = client("bob")
    ticket = alice.post("/documents/uploads", json={"filename": "log.pdf", "document_id": "log",
                                                     "collection": "manuals"}).json()
    pdf = make_pdf("Keeper's log", ["The lantern room was painted red in 1901."])
    sent = httpx.post(ticket["url"], data=ticket["fields"], files={"file": ("log.pdf", pdf)}, timeout=30)
    assert sent.status_code == 204, sent.text
    stolen = bob.post(ticket["complete"])
    assert stolen.status_code == 404 and stolen.json()["error"]["code"] == "upload_not_found"
    accepted = alice.post(ticket["complete"])
    assert accepted.status_code == 202 and accepted.json()["collection"] == "manuals"
    done = settle(alice, accepted)
    assert done["action"] == "created" and done["collection"] == "manuals", done
    assert ids(alice.get("/documents", params={"collection": "manuals"})) == ["log"]
    assert ids(bob.get("/documents", params={"collection": "manuals"})) == []


@pytest.mark.parametrize("name", ["x~default", "default~x", "a.b", "a/b"])
def test_a_client_cannot_name_an_internal_collection(client: Client, name: str) -> None:
    bob, _ = client("bob")
    requests: list[dict[str, Any]] = [
        {"method": "POST", "url": "/chat", "json": {"query": "hi", "collection": name}},
        {"method": "POST", "url": "/documents", "json": {"text": "hi", "collection": name}},
        {"method": "POST", "url": "/documents", "files": {"file": ("a.md", b"hi", "text/markdown")},
         "data": {"collection": name}},
        {"method": "POST", "url": "/documents/uploads", "json": {"filename": "a.md", "collection": name}},
        {"method": "GET", "url": "/documents", "params": {"collection": name}},
        {"method": "GET", "url": "/documents/doc", "params": {"collection": name}},
        {"method": "DELETE", "url": "/documents/doc", "params": {"collection": name}},
    ]
    for request in requests:
        response = bob.request(**request)
        assert response.status_code == 422, (request, response.text)

"""The document registry in Valkey: one JSON string per document, and a sorted set per
collection (by creation time) for listing. Registry entries do not expire, unlike jobs.

Both keys carry the collection as a hash tag (``ragcore:doc:{<collection>}:<id>``,
``ragcore:docs:{<collection>}``), so they fall in one cluster slot: the scripts that change a
document and its collection's index together, and the MGET that reads a page, run on a
cluster (ElastiCache Serverless) as on one server. Collection names cannot hold braces
(``domain/tenancy.py``).

A tenant's collections are a set, ``ragcore:collections:{<tenant>}`` (one key, so one slot),
that caps how many it may have; each new name costs an index shard.

The per-document lock serialises the jobs that write one document's chunks (an ingest and a
delete, or two ingests), which the queue may deliver in any order and at the same time.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from ragcore.adapters.valkey_client import valkey_errors
from ragcore.domain.documents import DocumentRecord
from ragcore.domain.tenancy import split

log = logging.getLogger(__name__)

# Change an entry only while it still names the job making the change, so a job that has been
# superseded (a newer upload or a delete came in meanwhile) cannot overwrite the newer state.
# An empty ARGV[2] deletes the entry.
_REPLACE_IF_LUA = """
local stored = redis.call('GET', KEYS[1])
if not stored or cjson.decode(stored).job_id ~= ARGV[1] then return 0 end
if ARGV[2] == '' then
  redis.call('DEL', KEYS[1])
  redis.call('ZREM', KEYS[2], ARGV[3])
else
  redis.call('SET', KEYS[1], ARGV[2])
  redis.call('ZADD', KEYS[2], ARGV[4], ARGV[3])
end
return 1
"""
# An entry and its place in the collection's index, written or removed together (a script,
# not MULTI: the cluster client has no transactions; both keys are in one slot).
_DELETE_LUA = """
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
"""
# Store a document's entry and list it in its collection: refused (0) when it is new and its
# collection is full. One script on the collection's slot, so two concurrent adds cannot both take the last place.
_ADMIT_LUA = """
if redis.call('EXISTS', KEYS[1]) == 0 and redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[4]) then
  return 0
end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[3])
return 1
"""
# A tenant's collection names: a known one (or ARGV[3] '1', one that already holds documents,
# from before the set existed) is admitted, a new one only while the set is under ARGV[2].
_CLAIM_COLLECTION_LUA = """
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 1 then return 1 end
if ARGV[3] ~= '1' and redis.call('SCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call('SADD', KEYS[1], ARGV[1])
return 1
"""
# One page of a collection's ids and its size, from the same moment.
_PAGE_LUA = "return {redis.call('ZRANGE', KEYS[1], ARGV[1], ARGV[2]), redis.call('ZCARD', KEYS[1])}"
# Release only a lock we still hold: after a lease ran out, another job may own it.
_UNLOCK_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


def _tag(collection: str) -> str:
    if "{" in collection or "}" in collection:
        raise ValueError(f"not a collection name: {collection!r}")
    return "{" + collection + "}"


def doc_key(prefix: str, collection: str, document_id: str) -> str:
    return f"{prefix}doc:{_tag(collection)}:{document_id}"


def index_key(prefix: str, collection: str) -> str:
    return f"{prefix}docs:{_tag(collection)}"


class ValkeyDocumentStore:
    """Implements ``ports.DocumentStore``."""

    def __init__(self, client: Any, prefix: str = "ragcore:") -> None:
        """``client``: ``valkey.Valkey`` or ``valkey.cluster.ValkeyCluster``."""
        self._client = client
        self._prefix = prefix
        self._unlock = client.register_script(_UNLOCK_LUA)
        self._replace_if = client.register_script(_REPLACE_IF_LUA)
        self._delete = client.register_script(_DELETE_LUA)
        self._page = client.register_script(_PAGE_LUA)
        self._admit = client.register_script(_ADMIT_LUA)
        self._claim_collection = client.register_script(_CLAIM_COLLECTION_LUA)

    def _doc_key(self, collection: str, document_id: str) -> str:
        return doc_key(self._prefix, collection, document_id)

    def _index_key(self, collection: str) -> str:
        return index_key(self._prefix, collection)

    def _lock_key(self, collection: str, document_id: str) -> str:
        return f"{self._prefix}doclock:{collection}:{document_id}"

    def admit(self, record: DocumentRecord, max_documents: int) -> bool:
        keys = [self._doc_key(record.collection, record.document_id), self._index_key(record.collection)]
        args = [record.model_dump_json(), repr(record.created_at), record.document_id, max_documents]
        with valkey_errors():
            return bool(self._admit(keys=keys, args=args))

    def claim_collection(self, collection: str, max_collections: int, existing: bool) -> bool:
        tenant, _ = split(collection)  # None with auth off: one set for all
        key = f"{self._prefix}collections:{_tag(tenant or '')}"
        with valkey_errors():
            return bool(self._claim_collection(keys=[key], args=[collection, max_collections, int(existing)]))

    def get(self, collection: str, document_id: str) -> DocumentRecord | None:
        with valkey_errors():
            raw = self._client.get(self._doc_key(collection, document_id))
        return DocumentRecord.model_validate_json(raw) if raw else None

    def list(self, collection: str, offset: int, limit: int) -> tuple[list[DocumentRecord], int]:
        with valkey_errors():
            ids, total = self._page(keys=[self._index_key(collection)], args=[offset, offset + limit - 1])
            raws = self._client.mget([self._doc_key(collection, i) for i in ids]) if ids else []
        return [DocumentRecord.model_validate(json.loads(r)) for r in raws if r], int(total)

    def count(self, collection: str) -> int:
        with valkey_errors():
            return int(self._client.zcard(self._index_key(collection)))

    def delete(self, collection: str, document_id: str) -> None:
        with valkey_errors():
            self._delete(keys=[self._doc_key(collection, document_id), self._index_key(collection)],
                         args=[document_id])

    def replace_if(
        self, collection: str, document_id: str, job_id: str, record: DocumentRecord | None
    ) -> bool:
        keys = [self._doc_key(collection, document_id), self._index_key(collection)]
        args = [job_id, record.model_dump_json() if record else "", document_id,
                repr(record.created_at) if record else "0"]
        with valkey_errors():
            return bool(self._replace_if(keys=keys, args=args))

    def lock(self, collection: str, document_id: str, owner: str, seconds: int) -> bool:
        with valkey_errors():
            return bool(self._client.set(self._lock_key(collection, document_id), owner, nx=True, ex=seconds))

    def unlock(self, collection: str, document_id: str, owner: str) -> None:
        with valkey_errors():
            self._unlock(keys=[self._lock_key(collection, document_id)], args=[owner])

    def save_upload(self, upload_id: str, request: dict, ttl_seconds: int) -> None:
        with valkey_errors():
            self._client.set(f"{self._prefix}upload:{upload_id}", json.dumps(request), ex=ttl_seconds)

    def load_upload(self, upload_id: str) -> dict | None:
        with valkey_errors():
            raw = self._client.get(f"{self._prefix}upload:{upload_id}")
        return json.loads(raw) if raw else None


def migrate_registry_keys(client: Any, prefix: str = "ragcore:") -> int:
    """Moves the registry entries written before the keys carried the collection as a hash tag
    (``ragcore:doc:<collection>:<id>``, ``ragcore:docs:<collection>``) to their current names;
    returns how many keys it moved. Key by key (GET/SET, ZRANGE/ZADD, then DEL): RENAME across
    slots is refused on a cluster. An entry already under its new name is kept (it is the
    newer), and an interrupted run is finished by the next, so running it again is harmless.
    The offline stack runs it at start; ``ragcore migrate-registry`` runs it on a deployed
    standalone cache (``ExistingValkeyUrl``) that holds entries from before."""
    moved = 0
    with valkey_errors():
        for old in list(client.scan_iter(match=f"{prefix}docs:*", count=500)):
            collection = old[len(f"{prefix}docs:"):]
            if collection.startswith("{"):
                continue
            members = client.zrange(old, 0, -1, withscores=True)
            if members:
                client.zadd(index_key(prefix, collection), dict(members), nx=True)
            client.delete(old)
            moved += 1
        for old in list(client.scan_iter(match=f"{prefix}doc:*", count=500)):
            rest = old[len(f"{prefix}doc:"):]
            if rest.startswith("{"):
                continue
            collection, _, document_id = rest.partition(":")  # a collection holds no ':'
            raw = client.get(old)
            if raw is not None:
                client.set(doc_key(prefix, collection, document_id), raw, nx=True)
            client.delete(old)
            moved += 1
    if moved:
        log.info("moved %d document registry keys to their cluster-mode names", moved)
    return moved

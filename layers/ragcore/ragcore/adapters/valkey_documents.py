"""The document registry in Valkey: one JSON string per document, and a sorted set per
collection (by creation time) for listing. Registry entries do not expire, unlike jobs.

The per-document lock serialises the jobs that write one document's chunks (an ingest and a
delete, or two ingests), which the queue may deliver in any order and at the same time.
"""

from __future__ import annotations

import json

import valkey

from ragcore.adapters.valkey_client import valkey_errors
from ragcore.domain.documents import DocumentRecord

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
# Release only a lock we still hold: after a lease ran out, another job may own it.
_UNLOCK_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class ValkeyDocumentStore:
    """Implements ``ports.DocumentStore``."""

    def __init__(self, client: valkey.Valkey, prefix: str = "ragcore:") -> None:
        self._client = client
        self._prefix = prefix
        self._unlock = client.register_script(_UNLOCK_LUA)
        self._replace_if = client.register_script(_REPLACE_IF_LUA)

    def _doc_key(self, collection: str, document_id: str) -> str:
        return f"{self._prefix}doc:{collection}:{document_id}"

    def _index_key(self, collection: str) -> str:
        return f"{self._prefix}docs:{collection}"

    def _lock_key(self, collection: str, document_id: str) -> str:
        return f"{self._prefix}doclock:{collection}:{document_id}"

    def put(self, record: DocumentRecord) -> None:
        with valkey_errors():
            pipe = self._client.pipeline(transaction=True)
            pipe.set(self._doc_key(record.collection, record.document_id), record.model_dump_json())
            pipe.zadd(self._index_key(record.collection), {record.document_id: record.created_at})
            pipe.execute()

    def get(self, collection: str, document_id: str) -> DocumentRecord | None:
        with valkey_errors():
            raw = self._client.get(self._doc_key(collection, document_id))
        return DocumentRecord.model_validate_json(raw) if raw else None

    def list(self, collection: str, offset: int, limit: int) -> tuple[list[DocumentRecord], int]:
        with valkey_errors():
            pipe = self._client.pipeline(transaction=True)
            pipe.zrange(self._index_key(collection), offset, offset + limit - 1)
            pipe.zcard(self._index_key(collection))
            ids, total = pipe.execute()
            raws = self._client.mget([self._doc_key(collection, i) for i in ids]) if ids else []
        return [DocumentRecord.model_validate(json.loads(r)) for r in raws if r], int(total)

    def delete(self, collection: str, document_id: str) -> None:
        with valkey_errors():
            pipe = self._client.pipeline(transaction=True)
            pipe.delete(self._doc_key(collection, document_id))
            pipe.zrem(self._index_key(collection), document_id)
            pipe.execute()

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

"""In-memory fakes of the ports, for unit tests of the use-cases. The job store fake is held
to the same contract as the Valkey adapter (tests/integration/test_job_store_contract.py)."""

from __future__ import annotations

import hashlib
import threading
import time
import uuid
from typing import Any, Callable, Sequence

from ragcore.domain.answers import Completion, Passage, Usage
from ragcore.domain.conversations import Conversation, Turn, TurnAdmission
from ragcore.domain.documents import Chunk, DocumentRecord
from ragcore.domain.errors import InvalidDocumentError, JobNotFoundError
from ragcore.domain.job_events import DELTA, EVENTS_KEPT, STATUS, JobEvent, delta_after, event_order
from ragcore.domain.jobs import Job, JobStatus
from ragcore.domain.lifecycle import Outcome, Rule, RuleStore, Transition, apply
from ragcore.domain.retrieval import SearchQuery
from ragcore.domain.tenancy import split
from ragcore.ports import BlobHead, KeyUse, PresignedPost, SavedResponse


class InMemoryJobStore(RuleStore):
    """Every transition is ``lifecycle.apply`` of the rule the Valkey adapter sends its script;
    each job's events as the adapter's stream keeps them (ids ``<ms>-<seq>``, capped)."""

    def __init__(self) -> None:
        self.jobs: dict[str, Job] = {}
        self.results: dict[str, dict] = {}
        self.events: dict[str, list[JobEvent]] = {}
        self._lock = threading.RLock()  # one transition (and a finished job's result) at a time
        self._added = threading.Condition(self._lock)  # a blocked ``read_events`` wakes on an event
        self._last_id = (0, 0)

    def ping(self) -> None:
        pass

    def _add_event(self, job_id: str, type_: str, data: dict) -> None:
        ms = int(time.time() * 1000)
        self._last_id = (ms, 0) if ms > self._last_id[0] else (self._last_id[0], self._last_id[1] + 1)
        kept = self.events.setdefault(job_id, [])
        kept.append(JobEvent(id=f"{self._last_id[0]}-{self._last_id[1]}", type=type_, data=data))
        del kept[:-EVENTS_KEPT]
        self._added.notify_all()

    def create(self, job: Job) -> None:
        with self._lock:
            self.jobs[job.job_id] = job.model_copy()
            self._add_event(job.job_id, STATUS, {"status": job.status.value, "attempt": job.attempts})

    def write_partial(self, job_id: str, attempt: int, text: str) -> bool:
        with self._lock:
            job = self.jobs.get(job_id)
            if job is None or job.status is not JobStatus.STARTED or job.attempts != attempt:
                return False
            kept = job.partial_answer or ""
            if text != kept:
                offset, added = delta_after(kept, text)
                self.jobs[job_id] = job.model_copy(update={"partial_answer": text})
                self._add_event(job_id, DELTA, {"offset": offset, "text": added, "attempt": attempt})
            return True

    def read_events(
        self, job_id: str, after: str | None, block_ms: int = 0, count: int = 100
    ) -> list[JobEvent]:
        def newer() -> list[JobEvent]:
            start = event_order(after) if after else (-1, -1)
            return [e for e in self.events.get(job_id, []) if event_order(e.id) > start][:count]

        with self._lock:
            self._added.wait_for(newer, timeout=block_ms / 1000)
            return newer()

    def get(self, job_id: str) -> Job:
        if job_id not in self.jobs:
            raise JobNotFoundError(job_id)
        return self.jobs[job_id].model_copy()

    def get_many(self, job_ids: Sequence[str]) -> dict[str, Job]:
        return {job_id: self.jobs[job_id].model_copy() for job_id in job_ids if job_id in self.jobs}

    def get_result(self, job_id: str) -> dict | None:
        return self.results.get(job_id)

    def delete(self, job_id: str) -> None:
        self.jobs.pop(job_id, None)
        self.events.pop(job_id, None)

    def cancel_requested(self, job_id: str) -> bool:
        job = self.jobs.get(job_id)
        return job is not None and job.cancel_requested

    def _apply(self, rule: Rule, job_id: str, *, result: dict | None = None, **call: Any) -> Transition:
        with self._lock:
            before = self.jobs.get(job_id)
            done = apply(rule, before, time.time(), **call)
            if done.job is None or before is None:
                return done
            self.jobs[job_id] = done.job
            if done.job.status is not before.status or (done.outcome is Outcome.APPLIED and rule.leases):
                status = {"status": done.job.status.value, "attempt": done.job.attempts}
                self._add_event(job_id, STATUS, status)
            if result is not None and done.outcome is Outcome.APPLIED:
                self.results[job_id] = result
            return Transition(done.outcome, done.job.model_copy())


class RecordingQueue:
    """``refuse``: the positions of the messages a ``send_batch`` reports unsent (as SQS reports
    failed entries of a call that succeeded); ``error``: every send fails."""

    def __init__(self, error: Exception | None = None, refuse: Sequence[int] = ()) -> None:
        self.sent: list = []
        self.error = error
        self.refuse = set(refuse)

    def send(self, message) -> None:  # type: ignore[no-untyped-def]
        if self.error:
            raise self.error
        self.sent.append(message)

    def send_batch(self, messages) -> list:  # type: ignore[no-untyped-def]
        if self.error:
            return list(messages)
        self.sent.extend(m for i, m in enumerate(messages) if i not in self.refuse)
        return [m for i, m in enumerate(messages) if i in self.refuse]

    def ping(self) -> None:
        pass


class KeywordEmbedder:
    """Two-dimensional 'embeddings' so that retrieval order is predictable."""

    dimension = 2

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        return [[1.0, 0.0] if "light" in t.lower() else [0.0, 1.0] for t in texts]


class ListIndex:
    def __init__(self, passages: list[Passage]) -> None:
        self.passages = passages
        self.searches: list[tuple[str, int]] = []

    def upsert(self, collection: str, chunks: Sequence[Chunk], vectors: Sequence[list[float]]) -> None:
        raise NotImplementedError

    def publish(self, collection: str, document_id: str, version: str) -> None:
        raise NotImplementedError

    def delete_document(self, collection: str, document_id: str) -> None:
        raise NotImplementedError

    def search(self, collection: str, query: SearchQuery, limit: int) -> list[Passage]:
        self.searches.append((collection, limit))
        return self.passages[:limit]


class InMemoryDocumentStore:
    def __init__(self) -> None:
        self.records: dict[tuple[str, str], DocumentRecord] = {}
        self.locks: dict[tuple[str, str], str] = {}
        self.uploads: dict[str, dict] = {}
        self.collections: dict[str | None, set[str]] = {}  # per tenant

    def admit(self, record: DocumentRecord, max_documents: int) -> bool:
        held = self.count(record.collection)
        if (record.collection, record.document_id) not in self.records and held >= max_documents:
            return False
        self.records[(record.collection, record.document_id)] = record
        return True

    def claim_collection(self, collection: str, max_collections: int, existing: bool) -> bool:
        names = self.collections.setdefault(split(collection)[0], set())
        if collection not in names and not existing and len(names) >= max_collections:
            return False
        names.add(collection)
        return True

    def get(self, collection: str, document_id: str) -> DocumentRecord | None:
        return self.records.get((collection, document_id))

    def list(self, collection: str, offset: int, limit: int) -> tuple[list[DocumentRecord], int]:
        mine = sorted((r for (c, _), r in self.records.items() if c == collection), key=lambda r: r.created_at)
        return mine[offset : offset + limit], len(mine)

    def count(self, collection: str) -> int:
        return sum(1 for c, _ in self.records if c == collection)

    def delete(self, collection: str, document_id: str) -> None:
        self.records.pop((collection, document_id), None)

    def replace_if(
        self, collection: str, document_id: str, job_id: str, record: DocumentRecord | None
    ) -> bool:
        stored = self.records.get((collection, document_id))
        if stored is None or stored.job_id != job_id:
            return False
        if record is None:
            del self.records[(collection, document_id)]
        else:
            self.records[(collection, document_id)] = record
        return True

    def lock(self, collection: str, document_id: str, owner: str, seconds: int) -> bool:
        return self.locks.setdefault((collection, document_id), owner) == owner

    def unlock(self, collection: str, document_id: str, owner: str) -> None:
        if self.locks.get((collection, document_id)) == owner:
            del self.locks[(collection, document_id)]

    def save_upload(self, upload_id: str, request: dict, ttl_seconds: int) -> None:
        self.uploads[upload_id] = request

    def load_upload(self, upload_id: str) -> dict | None:
        return self.uploads.get(upload_id)


class InMemoryBlobStore:
    """Like S3: an ETag per write, reads and server-side copies pinned to one, and a presigned
    form's signed bound."""

    def __init__(self) -> None:
        self.blobs: dict[str, bytes] = {}
        self.posts: dict[str, tuple[str, int]] = {}  # key: (content type, max bytes) signed

    def put(self, key: str, data: bytes, content_type: str) -> None:
        self.blobs[key] = data

    def get(self, key: str, etag: str | None = None) -> bytes:
        if etag is not None and _etag(self.blobs[key]) != etag:
            raise InvalidDocumentError(f"the uploaded file {key!r} was replaced after its upload was completed")
        return self.blobs[key]

    def copy(self, source: str, target: str, etag: str) -> str:
        if source not in self.blobs:
            raise InvalidDocumentError(f"the uploaded file {source!r} is missing")
        if _etag(self.blobs[source]) != etag:  # CopySourceIfMatch
            raise InvalidDocumentError(f"the uploaded file {source!r} changed while it was being completed")
        self.blobs[target] = self.blobs[source]
        return _etag(self.blobs[target])

    def delete(self, key: str) -> None:
        self.blobs.pop(key, None)

    def head(self, key: str) -> BlobHead | None:
        return BlobHead(len(self.blobs[key]), _etag(self.blobs[key])) if key in self.blobs else None

    def presign_post(self, key: str, content_type: str, max_bytes: int, expires_seconds: int) -> PresignedPost:
        self.posts[key] = (content_type, max_bytes)
        return PresignedPost("https://blobs.invalid/", {"key": key, "Content-Type": content_type})


class InMemoryIdempotencyStore:
    """Held to the Valkey adapter's contract (tests/integration/test_idempotency_store_contract.py):
    one record per key, reserved atomically, expiring on the monotonic clock."""

    def __init__(self) -> None:
        self.records: dict[str, tuple[KeyUse, float]] = {}  # key: (what holds it, expires at)
        self._lock = threading.Lock()

    def _live(self, key: str) -> KeyUse | None:
        found = self.records.get(key)
        return found[0] if found and found[1] > time.monotonic() else None

    def reserve(self, key: str, fingerprint: str, hold_seconds: int) -> KeyUse:
        with self._lock:
            held = self._live(key)
            if held is not None:
                return KeyUse(held.fingerprint, response=held.response)
            use = KeyUse(fingerprint, token=uuid.uuid4().hex)
            self.records[key] = (use, time.monotonic() + hold_seconds)
            return use

    def save(self, key: str, use: KeyUse, response: SavedResponse, ttl_seconds: int) -> bool:
        with self._lock:
            if self._live(key) != use:
                return False
            self.records[key] = (KeyUse(use.fingerprint, response=response), time.monotonic() + ttl_seconds)
            return True

    def release(self, key: str, use: KeyUse) -> None:
        with self._lock:
            if self._live(key) == use:
                del self.records[key]


def _etag(data: bytes) -> str:
    return '"' + hashlib.md5(data).hexdigest() + '"'


class ScriptedChat:
    """Raises ``error`` on every call, or each of ``errors`` once in turn, then answers."""

    def __init__(
        self, text: str = "First lit in 1874 [1].", error: Exception | None = None,
        errors: Sequence[Exception] = (), on_call: Callable[[], None] | None = None,
    ) -> None:
        self.text = text
        self.error = error
        self.errors = list(errors)
        self.on_call = on_call
        self.calls: list[list[dict[str, str]]] = []
        self.timeouts: list[float | None] = []

    def complete(self, messages: list[dict[str, str]], timeout: float | None = None) -> Completion:
        self.calls.append(messages)
        self.timeouts.append(timeout)
        if self.on_call:
            self.on_call()
        if self.error:
            raise self.error
        if self.errors:
            raise self.errors.pop(0)
        return Completion(text=self.text, model="scripted", usage=Usage(prompt_tokens=3, completion_tokens=4, total_tokens=7))

    def stream(self, messages: list[dict[str, str]], on_text: Callable[[str], None],
               timeout: float | None = None) -> Completion:
        """``complete``, its text handed to ``on_text`` a word at a time first."""
        completion = self.complete(messages, timeout)
        words = completion.text.split(" ")
        for n in range(1, len(words) + 1):
            on_text(" ".join(words[:n]))
        return completion


class RecordingIndex:
    """Keeps chunks per collection and marks published versions; enough to check what the
    ingest use-cases write, not how Qdrant ranks."""

    def __init__(self) -> None:
        self.chunks: dict[str, dict[str, Chunk]] = {}
        self.live: dict[tuple[str, str], str] = {}

    def upsert(self, collection: str, chunks: Sequence[Chunk], vectors: Sequence[list[float]]) -> None:
        self.chunks.setdefault(collection, {}).update({c.chunk_id: c for c in chunks})

    def publish(self, collection: str, document_id: str, version: str) -> None:
        mine = self.chunks.setdefault(collection, {})
        for chunk_id in [i for i, c in mine.items() if c.document_id == document_id and c.version != version]:
            del mine[chunk_id]
        self.live[(collection, document_id)] = version

    def delete_document(self, collection: str, document_id: str) -> None:
        mine = self.chunks.get(collection, {})
        for chunk_id in [i for i, c in mine.items() if c.document_id == document_id]:
            del mine[chunk_id]
        self.live.pop((collection, document_id), None)

    def search(self, collection: str, query: SearchQuery, limit: int) -> list[Passage]:
        raise NotImplementedError


class InMemoryConversationStore:
    """``ports.ConversationStore`` in memory, held to the Valkey adapter's contract
    (tests/integration/test_conversation_store_contract.py); expiry is not modelled."""

    def __init__(self) -> None:
        self.conversations: dict[str, Conversation] = {}
        self._lock = threading.Lock()

    def add_turn(self, conversation_id: str, owner: str | None, turn: Turn, new: bool,
                 max_turns: int) -> TurnAdmission:
        with self._lock:
            stored = self.conversations.get(conversation_id)
            if new:
                if stored is not None:
                    return TurnAdmission.MISSING
                stored = Conversation(conversation_id=conversation_id, owner=owner, created_at=turn.created_at,
                                      turns=[])
                self.conversations[conversation_id] = stored
            elif stored is None or (owner is not None and stored.owner != owner):
                return TurnAdmission.MISSING
            if all(t.job_id != turn.job_id for t in stored.turns):
                if len(stored.turns) >= max_turns:
                    return TurnAdmission.FULL
                stored.turns.append(turn.model_copy())
            return TurnAdmission.ADDED

    def remove_turn(self, conversation_id: str, job_id: str) -> None:
        with self._lock:
            stored = self.conversations.get(conversation_id)
            if stored is None:
                return
            stored.turns = [t for t in stored.turns if t.job_id != job_id]
            if not stored.turns:
                del self.conversations[conversation_id]

    def record(self, conversation_id: str, turn: Turn) -> bool:
        with self._lock:
            stored = self.conversations.get(conversation_id)
            for index, kept in enumerate(stored.turns if stored else []):
                if kept.job_id == turn.job_id and not kept.recorded:
                    stored.turns[index] = turn.model_copy()  # type: ignore[union-attr]
                    return True
            return False

    def get(self, conversation_id: str) -> Conversation | None:
        stored = self.conversations.get(conversation_id)
        return stored.model_copy(deep=True) if stored else None

    def delete(self, conversation_id: str) -> None:
        self.conversations.pop(conversation_id, None)

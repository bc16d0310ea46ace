"""The small interfaces domain services depend on; adapters implement them."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Iterator, Protocol, Sequence

from ragcore.domain.answers import Completion, Passage
from ragcore.domain.api_keys import ApiKey, GatewayKey
from ragcore.domain.documents import Chunk, DocumentRecord
from ragcore.domain.jobs import Job, JobStatus
from ragcore.domain.retrieval import SearchQuery
from ragcore.domain.messages import JobMessage


class ClaimOutcome(StrEnum):
    CLAIMED = "claimed"  # this worker owns the job now
    ALREADY_DONE = "already_done"  # terminal: the message is a redelivery, drop it
    IN_PROGRESS = "in_progress"  # another worker holds a live lease: retry later
    MISSING = "missing"  # no record (expired or never written): nothing to run


@dataclass(frozen=True)
class Claim:
    outcome: ClaimOutcome
    attempt: int = 0


@dataclass(frozen=True)
class StopRequest:
    """What ``JobStore.request_stop`` did. ``stopped``: this very call moved the job from
    QUEUED to STOPPED (of two cancels racing, exactly one sees it), so the stop is counted
    once; False when it was stopped already, only flagged (STARTED) or final."""

    status: JobStatus  # the job's status after the call
    stopped: bool = False


class JobStore(Protocol):
    """Every status change is atomic and checked against ``domain.jobs.TRANSITIONS``; the
    ``attempt`` arguments make a write from a worker that lost its lease a no-op."""

    def create(self, job: Job) -> None: ...
    def get(self, job_id: str) -> Job: ...
    def get_result(self, job_id: str) -> dict | None: ...
    def delete(self, job_id: str) -> None: ...
    def claim(self, job_id: str, lease_seconds: int) -> Claim: ...
    def finish(self, job_id: str, attempt: int, result: dict) -> JobStatus | None:
        """FINISHED, or STOPPED if a stop was requested meanwhile (the result is dropped);
        None if this attempt no longer owns the job. ``fail`` likewise."""
    def fail(self, job_id: str, attempt: int, error: str) -> JobStatus | None: ...
    def stop(self, job_id: str, attempt: int) -> bool: ...
    def retry_later(self, job_id: str, attempt: int, error: str, retry_at: float) -> JobStatus | None:
        """After a transient failure: STARTED back to QUEUED, the lease released, ``error``
        kept as ``last_error`` and ``retry_at`` (epoch seconds) as the next attempt's time.
        STOPPED if a stop was requested; None if this attempt no longer owns the job."""
    def fail_if_overdue(self, job_id: str) -> JobStatus | None:
        """Past its deadline and held by no live lease: FAILED (STOPPED if a stop was
        requested); otherwise None and nothing changes."""
    def request_stop(self, job_id: str) -> StopRequest:
        """QUEUED jobs stop at once; STARTED ones are flagged and stay STARTED until the
        worker reaches a step boundary."""
    def cancel_requested(self, job_id: str) -> bool: ...
    def requeue(self, job_id: str, deadline_at: float) -> JobStatus | None:
        """The dead-letter redrive: a failed job, or one left queued or started (lease
        expired) by a lost message, back to QUEUED with attempts from 0, a new deadline and
        ``queued_at`` now. STOPPED if a stop was requested; None if a worker holds it or it is
        finished."""
    def ping(self) -> None: ...


@dataclass(frozen=True)
class JobRecord:
    """The parts of a stored job that ``ragcore stats`` needs."""

    kind: str
    status: JobStatus
    created_at: float
    started_at: float | None = None
    timings_ms: dict[str, float] | None = None  # a finished chat job's
    queued_at: float | None = None  # a redriven job's requeue time (queue wait starts there)
    finished_at: float | None = None

    @property
    def enqueued_at(self) -> float:
        return self.queued_at if self.queued_at is not None else self.created_at


class JobRecords(Protocol):
    """Every stored job record, read in bulk (statistics; never on a request's path)."""

    def scan(self) -> Iterator[JobRecord]: ...


@dataclass(frozen=True)
class QueueDepth:
    """Messages in one queue, from its approximate counters."""

    visible: int  # waiting to be received
    in_flight: int  # received, not yet deleted
    delayed: int = 0


@dataclass(frozen=True)
class Admission:
    allowed: bool
    retry_after: float = 0.0  # seconds until a request would be admitted
    reason: str = ""  # "rate" or "quota" when refused


class KeyStore(Protocol):
    """API keys by the keyed hash of their secret, and the per-key limits' counters."""

    def add(self, key: ApiKey, key_digest: str) -> None: ...
    def find(self, key_digest: str) -> ApiKey | None: ...
    def list(self) -> list[ApiKey]: ...
    def revoke(self, key_id: str) -> ApiKey | None:
        """The key as revoked now; None if there is no such active key."""
    def set_gateway_key(self, key_id: str, gateway_key: GatewayKey | None) -> ApiKey | None: ...
    def admit(self, key: ApiKey) -> Admission:
        """Takes one request from the key's token bucket and daily quota, atomically."""


class GatewayKeys(Protocol):
    """API Gateway's keys in the stage's usage plan: the per-key throttle at the edge."""

    def issue(self, key_id: str) -> GatewayKey: ...
    def withdraw(self, gateway_key: GatewayKey) -> None:
        """Done also when it is already gone."""
    def holds(self, gateway_key: GatewayKey) -> bool:
        """Whether the plan still meters it (a replaced plan does not)."""


class JobQueue(Protocol):
    def send(self, message: JobMessage) -> None: ...
    def redeliver_in(self, source_arn: str, receipt_handle: str, seconds: int) -> None:
        """A message a worker received (from the queue ``source_arn`` names) comes back after
        ``seconds`` rather than the queue's whole visibility timeout."""
    def ping(self) -> None: ...


@dataclass(frozen=True)
class DeadLetter:
    body: str
    handle: str  # the queue's receipt, to delete or return the message


class DeadLetters(Protocol):
    """A job queue's dead-letter queue, read for a redrive."""

    def receive(self) -> list[DeadLetter]:
        """A batch; letters received are hidden for a while, so an empty batch means done."""
    def send_back(self, letter: DeadLetter) -> None:
        """To the job queue it came from, then off the dead-letter queue."""
    def discard(self, letter: DeadLetter) -> None: ...


class Embedder(Protocol):
    dimension: int

    def embed(self, texts: Sequence[str]) -> list[list[float]]: ...


class VectorIndex(Protocol):
    """Chunks are written hidden and become searchable only when their document version is
    published, so a reader sees a document's old chunks or its new ones, never a mix."""

    def upsert(self, collection: str, chunks: Sequence[Chunk], vectors: Sequence[list[float]]) -> None: ...
    def publish(self, collection: str, document_id: str, version: str) -> None: ...
    def delete_document(self, collection: str, document_id: str) -> None: ...
    def search(self, collection: str, query: SearchQuery, limit: int) -> list[Passage]: ...


class DocumentStore(Protocol):
    """The registry of documents per collection (what ``GET /documents`` lists)."""

    def admit(self, record: DocumentRecord, max_documents: int) -> bool:
        """Stores the entry (and lists it in its collection), unless the document is new and its
        collection holds ``max_documents`` already: atomic."""
    def claim_collection(self, collection: str, max_collections: int, existing: bool) -> bool:
        """Counts ``collection`` among its tenant's; False if it is new and the tenant has
        ``max_collections`` (``existing``: it holds documents already, so it is not new). Atomic."""
    def get(self, collection: str, document_id: str) -> DocumentRecord | None: ...
    def list(self, collection: str, offset: int, limit: int) -> tuple[list[DocumentRecord], int]: ...
    def count(self, collection: str) -> int:
        """How many documents ``collection`` lists (``list``'s total), without reading any."""
    def delete(self, collection: str, document_id: str) -> None: ...
    def replace_if(
        self, collection: str, document_id: str, job_id: str, record: DocumentRecord | None
    ) -> bool: ...
    def lock(self, collection: str, document_id: str, owner: str, seconds: int) -> bool: ...
    def unlock(self, collection: str, document_id: str, owner: str) -> None: ...
    def save_upload(self, upload_id: str, request: dict, ttl_seconds: int) -> None: ...
    def load_upload(self, upload_id: str) -> dict | None: ...


@dataclass(frozen=True)
class BlobHead:
    size: int
    etag: str  # names this content: a later write of the key gets another


@dataclass(frozen=True)
class PresignedPost:
    """A form upload: POST ``fields`` then the file (``multipart/form-data``) to ``url``. The
    signed policy holds the key, the content type and the size range, so S3 refuses the rest."""

    url: str
    fields: dict[str, str]


class BlobStore(Protocol):
    """Raw uploaded files (S3): the worker ingests from here."""

    def put(self, key: str, data: bytes, content_type: str) -> None: ...
    def get(self, key: str, etag: str | None = None) -> bytes:
        """``etag``: only that content; a changed file raises ``InvalidDocumentError``."""
    def copy(self, source: str, target: str, etag: str) -> str:
        """Server-side copy of ``source`` only if its ETag is still ``etag`` (else
        ``InvalidDocumentError``); returns the copy's ETag."""
    def delete(self, key: str) -> None: ...
    def head(self, key: str) -> BlobHead | None: ...
    def presign_post(
        self, key: str, content_type: str, max_bytes: int, expires_seconds: int
    ) -> PresignedPost: ...


class ChatModel(Protocol):
    def complete(self, messages: list[dict[str, str]], timeout: float | None = None) -> Completion:
        """``timeout`` caps the call below the adapter's own limit (what the invocation has left)."""

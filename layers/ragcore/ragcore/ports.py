"""The small interfaces domain services depend on; adapters implement them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator, Protocol, Sequence

from ragcore.domain.answers import Completion, Passage
from ragcore.domain.api_keys import ApiKey, GatewayKey
from ragcore.domain.callbacks import WebhookDelivery, WebhookState
from ragcore.domain.conversations import Conversation, Turn, TurnAdmission
from ragcore.domain.documents import Chunk, DocumentRecord
from ragcore.domain.job_events import JobEvent
from ragcore.domain.jobs import Job, JobStatus
from ragcore.domain.lifecycle import Transition
from ragcore.domain.retrieval import SearchQuery
from ragcore.domain.messages import JobMessage


class JobStore(Protocol):
    """Every status change applies the ``domain.lifecycle`` rule of its name (``claim`` is
    ``CLAIM``, ``request_cancel`` is ``REQUEST_CANCEL``, ...) atomically, and answers with what
    it did and the job as it stands after it. The ``attempt`` arguments make a write from a
    worker that lost its lease a no-op (``Outcome.STALE``)."""

    def create(self, job: Job) -> None: ...
    def get(self, job_id: str) -> Job: ...
    def get_many(self, job_ids: Sequence[str]) -> dict[str, Job]:
        """The jobs of ``job_ids`` that exist, by id, read in one round trip (on a cluster, one
        per node holding some): many statuses for one request."""
    def get_result(self, job_id: str) -> dict | None: ...
    def delete(self, job_id: str) -> None: ...
    def claim(self, job_id: str, lease_seconds: int) -> Transition: ...
    def finish(self, job_id: str, attempt: int, result: dict) -> Transition:
        """The result is written only if the job ends FINISHED (not if a cancel wins)."""
    def fail(self, job_id: str, attempt: int, error: str) -> Transition: ...
    def honour_cancel(self, job_id: str, attempt: int) -> Transition: ...
    def retry_later(self, job_id: str, attempt: int, error: str, retry_at: float) -> Transition:
        """``error`` is kept as ``last_error`` and ``retry_at`` (epoch seconds) as the next
        attempt's time."""
    def fail_overdue(self, job_id: str) -> Transition: ...
    def request_cancel(self, job_id: str) -> Transition: ...
    def cancel_requested(self, job_id: str) -> bool: ...
    def requeue(self, job_id: str, deadline_at: float) -> Transition: ...
    def ping(self) -> None: ...
    # The job's event stream (``domain/job_events.py``): every status change above adds its
    # ``status`` event in the same atomic step; ``write_partial`` adds ``delta`` events.
    def write_partial(self, job_id: str, attempt: int, text: str) -> bool:
        """Atomically: ``text`` (the whole answer so far) becomes the job's ``partial_answer``
        and what it adds a ``delta`` event, only while the job is started by ``attempt`` (False,
        nothing written, otherwise: a stale worker, or a job that has ended)."""
    def read_events(
        self, job_id: str, after: str | None, block_ms: int = 0, count: int = 100
    ) -> list[JobEvent]:
        """Up to ``count`` events after the id ``after`` (None: from the oldest kept), oldest
        first; with ``block_ms`` and none yet, waits up to that long for one. Empty for an
        unknown or expired job."""


class ConversationStore(Protocol):
    """Conversations and their turns, each turn named by its chat job's id; every write
    renews the conversation's expiry (the job TTL), so it lives as long as its newest job."""

    def add_turn(self, conversation_id: str, owner: str | None, turn: Turn, new: bool,
                 max_turns: int) -> TurnAdmission:
        """Atomically: ``new`` makes the conversation with ``turn`` as its first (an id in use
        is MISSING); otherwise ``turn`` is appended if the conversation exists, is ``owner``'s
        (None: anyone's) and holds fewer than ``max_turns`` turns. A turn there already (its
        job id) is not added twice."""
    def remove_turn(self, conversation_id: str, job_id: str) -> None:
        """Undoes ``add_turn``; a conversation left with no turn is deleted."""
    def record(self, conversation_id: str, turn: Turn) -> bool:
        """Writes a final turn's outcome over the turn of its job id, once: False (nothing
        written) if the turn is not there or has its outcome already."""
    def get(self, conversation_id: str) -> Conversation | None: ...
    def delete(self, conversation_id: str) -> None: ...


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
    allowed: bool  # every request asked for was admitted
    retry_after: float = 0.0  # seconds until the refused ones would be admitted
    reason: str = ""  # "rate" or "quota" when some were refused
    granted: int = 0  # how many of the requests asked for were admitted


class KeyStore(Protocol):
    """API keys by the keyed hash of their secret, and the per-key limits' counters."""

    def add(self, key: ApiKey, key_digest: str) -> None: ...
    def find(self, key_digest: str) -> ApiKey | None: ...
    def list(self) -> list[ApiKey]: ...
    def revoke(self, key_id: str) -> ApiKey | None:
        """The key as revoked now; None if there is no such active key."""
    def set_gateway_key(self, key_id: str, gateway_key: GatewayKey | None) -> ApiKey | None: ...
    def admit(self, key: ApiKey, cost: int = 1) -> Admission:
        """Takes ``cost`` requests (a batch's questions) from the key's token bucket and daily
        quota, atomically: as many as both allow, which ``granted`` says; ``retry_after`` is
        when the bucket will hold the rest (at most its burst)."""


@dataclass(frozen=True)
class SavedResponse:
    """An answer kept for an idempotency key, to be sent again as it was."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes


@dataclass(frozen=True)
class KeyUse:
    """What ``IdempotencyStore.reserve`` found: the key reserved for this request (``token``
    set), or the request that holds or held it (its ``fingerprint``) with its ``response`` once
    saved (None while it is in progress)."""

    fingerprint: str
    token: str | None = None
    response: SavedResponse | None = None

    @property
    def reserved(self) -> bool:
        return self.token is not None


class IdempotencyStore(Protocol):
    """Idempotency keys (each already scoped to its tenant, method and path by the caller),
    one record per key: atomic, so of concurrent requests with one key exactly one reserves it."""

    def reserve(self, key: str, fingerprint: str, hold_seconds: int) -> KeyUse:
        """Reserves ``key`` for ``hold_seconds`` if no request holds it and none saved an
        answer under it; otherwise what holds it."""
    def save(self, key: str, use: KeyUse, response: SavedResponse, ttl_seconds: int) -> bool:
        """Keeps ``response`` for ``ttl_seconds`` if ``use``'s reservation still holds the key
        (False if it expired and another request reserved it)."""
    def release(self, key: str, use: KeyUse) -> None:
        """Frees the key if ``use``'s reservation still holds it."""


class GatewayKeys(Protocol):
    """API Gateway's keys in the stage's usage plan: the per-key throttle at the edge."""

    def issue(self, key_id: str) -> GatewayKey: ...
    def withdraw(self, gateway_key: GatewayKey) -> None:
        """Done also when it is already gone."""
    def holds(self, gateway_key: GatewayKey) -> bool:
        """Whether the plan still meters it (a replaced plan does not)."""


class JobQueue(Protocol):
    def send(self, message: JobMessage) -> None: ...
    def send_batch(self, messages: Sequence[JobMessage]) -> list[JobMessage]:
        """Sends ``messages`` in the queue's batches (SQS: 10 a call) and returns those that
        were not sent, which the caller undoes: entries the queue refused, and once a call
        fails (the queue unreachable) that call's and every later one's, unsent rather than
        raised, so a batch never outlasts the API's time limit."""
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
    def stream(self, messages: list[dict[str, str]], on_text: Callable[[str], None],
               timeout: float | None = None) -> Completion:
        """As ``complete``, the answer streamed: ``on_text`` gets the whole text so far after each
        piece; ``timeout`` bounds the whole stream, however it trickles or stalls."""


# --- Completion webhooks (services/webhooks.py) ---


@dataclass(frozen=True)
class WebhookClaim:
    """What ``WebhookStore.claim`` found: the delivery as it stands, and whether this caller
    now holds it (not when another holds it, or when it is final already)."""

    delivery: WebhookDelivery
    granted: bool


class WebhookStore(Protocol):
    """Each job's webhook delivery state, kept in the job's cluster slot and expiring with it."""

    def get_many(self, job_ids: Sequence[str]) -> dict[str, WebhookDelivery]:
        """The deliveries tried so far of ``job_ids``, by job id, in one round trip per node."""
    def claim(self, job_id: str, token: str, seconds: int) -> WebhookClaim:
        """Atomically: ``token`` holds the job's delivery for ``seconds`` unless it is final or
        another live claim holds it, so one job's deliveries never run at once."""
    def record(self, job_id: str, token: str, state: WebhookState, status: int | None, error: str | None) -> bool:
        """One attempt's outcome (attempts + 1), written and the claim freed only while ``token``
        holds it; False if it no longer does."""


class WebhookSecrets(Protocol):
    """Per-tenant signing secrets (``whsec_`` + base64), shown to their owner only when made."""

    def create(self, tenant: str | None) -> str | None:
        """A new secret for ``tenant`` (None: jobs without one, auth off); None if it has one."""
    def rotate(self, tenant: str | None, grace_seconds: int) -> str:
        """A new secret; the one it replaces still signs for ``grace_seconds``."""
    def signing(self, tenant: str | None) -> list[str]:
        """The secrets that sign ``tenant``'s deliveries now: the current one first."""


class WebhookQueue(Protocol):
    def send(self, job_id: str) -> None: ...
    def redeliver_in(self, receipt_handle: str, seconds: int) -> None:
        """A received delivery message comes back after ``seconds``: the retry schedule."""


class WebhookSender(Protocol):
    def post(self, url: str, body: bytes, headers: dict[str, str]) -> int:
        """The receiver's HTTP status. ``CallbackRefusedError`` for an address the service may
        not call (permanent), ``CallbackUnreachableError`` for no answer (try again)."""

"""The core's own error types, all here and all ``RagError`` (the HTTP client's are in
``client/errors.py``; the offline stack's start-up failure in ``local/processes.py``).

The API maps them to HTTP statuses at the edge (``functions/api/rag_api/errors.py``); the core
never knows about HTTP.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from ragcore.domain.tenancy import split

if TYPE_CHECKING:
    from ragcore.domain.answers import Completion


class RagError(Exception):
    """Base class: the message is safe to show to a client (no secrets, no internals)."""


class JobNotFoundError(RagError):
    def __init__(self, job_id: str) -> None:
        super().__init__(f"no job with id {job_id!r}; it may never have existed or has expired")
        self.job_id = job_id


class ConversationNotFoundError(RagError):
    def __init__(self, conversation_id: str) -> None:
        super().__init__(
            f"no conversation with id {conversation_id!r}; it may never have existed, been deleted or expired"
        )
        self.conversation_id = conversation_id


class ConversationFullError(RagError):
    """The conversation holds its most turns; a new conversation carries on."""


class DependencyUnavailableError(RagError):
    """A backing service (Valkey, SQS, Qdrant, the LLM) could not be reached or asked us to
    slow down: worth retrying. ``retry_after`` is the service's own hint, in seconds."""

    def __init__(self, dependency: str, detail: str = "", retry_after: float | None = None) -> None:
        message = f"{dependency} is unavailable"
        super().__init__(f"{message}: {detail}" if detail else message)
        self.dependency = dependency
        self.retry_after = retry_after


class InvalidMessageError(RagError):
    """A queue message that can never be processed, however often it is retried."""


class AnswerGenerationError(RagError):
    """The LLM refused the request or returned nothing usable; retrying would not help.
    ``spent``: the call's token use when it completed but its answer was unusable (an empty
    answer, a filtered one), so that what it cost is still counted."""

    def __init__(self, message: str, spent: Completion | None = None) -> None:
        super().__init__(message)
        self.spent = spent


class JobBusyError(RagError):
    """Another worker holds a live lease on the job; its message should come back later."""


class TurnNotReadyError(RagError):
    """An earlier turn of the job's conversation is still being answered: the job's message
    comes back later, its job untouched (``services/conversation_turns.py``)."""


class JobNotCancellableError(RagError):
    """The job is final already, or of a kind that runs to the end (``domain.job_kinds``: a
    document job cancelled half-way would leave half a version)."""


class JobCancelled(RagError):
    """A cancel was requested: raised in the worker at the job's next step boundary."""


class InvalidDocumentError(RagError):
    """A document that cannot be ingested as sent (type, encoding, no text)."""


class DocumentTooLargeError(InvalidDocumentError):
    """A document past a bound: an upload past its size limit, refused by the API (413, with
    ``reason`` as the message), or one past a parsing bound (pages, characters, chunks, a PDF's
    parse time or memory), found by the worker, whose job error then says what the API would
    have answered: ``too_large (413): <reason>``."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"too_large (413): {reason}")
        self.reason = reason


class DocumentNotFoundError(RagError):
    def __init__(self, collection: str, document_id: str) -> None:
        shown = split(collection)[1]  # as the client named it: a tenant's scope is internal
        super().__init__(f"no document {document_id!r} in collection {shown!r}")
        self.document_id = document_id


class UnsupportedDocumentTypeError(InvalidDocumentError):
    pass


class UploadIncompleteError(InvalidDocumentError):
    """The presigned upload has not arrived in the bucket (yet)."""


class UploadNotFoundError(InvalidDocumentError):
    """No such upload: never created, or its ticket expired."""


class UploadCompletedError(InvalidDocumentError):
    """``complete`` was called twice: a replay must not queue the old file again."""


class CollectionLimitError(InvalidDocumentError):
    """The tenant has ``max_collections`` collections; this would be a new one."""


class DocumentLimitError(InvalidDocumentError):
    """The collection holds ``max_documents``; this would be a new document."""


class UnauthorizedError(RagError):
    """No key, an unknown key, or a revoked one: the same answer for all three, so a caller
    learns nothing about which keys exist."""


class RateLimitedError(RagError):
    def __init__(self, reason: str, retry_after: float) -> None:
        what = "daily quota used up" if reason == "quota" else "too many requests"
        super().__init__(f"{what}; retry after {math.ceil(retry_after)} s")
        self.reason = reason
        self.retry_after = retry_after


class IndexOutdatedError(RagError):
    """A collection built by an older ragcore, without the vectors or fields this one needs."""


class CallbackRefusedError(RagError):
    """A callback URL the service may not call (an internal address): never retried."""


class CallbackUnreachableError(RagError):
    """The receiver did not answer (no connection, a timeout): the delivery is tried again."""


class WebhookNotQueuedError(RagError):
    """A job ended but its webhook delivery could not be queued (``services/webhooks.py``):
    raised after the transition, so a worker's record fails and its message, back from the
    queue, queues the delivery again."""

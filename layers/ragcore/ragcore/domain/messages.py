"""What clients send and what travels on the queue."""

from __future__ import annotations

import json
import re
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
)

from ragcore.domain.callbacks import CallbackUrl
from ragcore.domain.conversations import CONVERSATION_ID_PATTERN
from ragcore.domain.documents import DocumentId
from ragcore.domain.filters import INT64_MAX, INT64_MIN, ChatFilter
from ragcore.domain.job_kinds import JobKind
from ragcore.domain.retrieval import RetrievalMode
from ragcore.domain.tenancy import CollectionName, ScopedCollection

MAX_QUERY_CHARS = 2000
MAX_TOP_K = 20

# Control characters (Unicode category Cc: C0, DEL, C1) except tab, newline and carriage
# return. They are never meant in text a person wrote, and NUL breaks C-string consumers
# downstream (logs, PDF titles, the LLM server), so they are refused rather than dropped.
_CONTROLS = r"\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f"
_CONTROL_CHAR = re.compile(f"[{_CONTROLS}]")
# JSON may carry a lone surrogate ("\ud800"): not a character, and no UTF-8 text can hold it.
_SURROGATE = re.compile("[\ud800-\udfff]")
# Both kinds, as stripped from a file's extracted text (services/parsing.py): its sender did not
# type them and cannot remove them, so they go rather than refusing the file.
UNWANTED_CHARS = re.compile(f"[{_CONTROLS}\ud800-\udfff]")
# The validators' rules written as patterns, so the OpenAPI document says what is accepted.
PLAIN_TEXT_PATTERN = rf"^[^{_CONTROLS}]*$"
QUERY_PATTERN = rf"^[^{_CONTROLS}]*[^\s{_CONTROLS}][^{_CONTROLS}]*$"


def _plain_text(value: str) -> str:
    if _CONTROL_CHAR.search(value):
        raise ValueError("must not contain control characters (other than tab, newline, carriage return)")
    if _SURROGATE.search(value):
        raise ValueError("must be valid Unicode text: it has a lone surrogate")
    return value


PlainText = Annotated[
    str, AfterValidator(_plain_text), Field(json_schema_extra={"pattern": PLAIN_TEXT_PATTERN})
]


def _number_not_bool_or_text(value: Any) -> Any:
    """JSON has one kind of number, so ``5.0`` is the integer 5 (JSON Schema agrees); but a
    ``true`` or a ``"5"`` is a client mistake, which lax validation would turn into 1 and 5."""
    if isinstance(value, (bool, str)):
        raise ValueError("must be an integer: a JSON number, not a string or a boolean")
    return value


JsonInteger = Annotated[int, BeforeValidator(_number_not_bool_or_text)]


class ChatRequest(BaseModel):
    """Body of ``POST /chat``; unknown fields are refused so typos do not pass silently."""

    model_config = ConfigDict(extra="forbid")

    query: PlainText = Field(
        min_length=1, max_length=MAX_QUERY_CHARS, json_schema_extra={"pattern": QUERY_PATTERN}
    )
    top_k: JsonInteger = Field(default=5, ge=1, le=MAX_TOP_K)
    collection: CollectionName = "default"
    mode: RetrievalMode = RetrievalMode.HYBRID
    filter: ChatFilter | None = None
    conversation_id: str | None = Field(
        default=None, pattern=CONVERSATION_ID_PATTERN.pattern,
        description="a follow-up in this conversation (32 lower-case hex characters); omitted: a new one",
    )
    callback_url: CallbackUrl | None = None

    @field_validator("query")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        stripped = value.strip()
        if not stripped:
            raise ValueError("query must contain some non-whitespace text")
        return stripped


class ChatJob(ChatRequest):
    """A chat request as its job stores it and the worker reads it back: the collection is
    the internal name, scoped to the caller's tenant (``tenancy.scoped``)."""

    collection: ScopedCollection = "default"


MAX_METADATA_CHARS = 4000
# What both Qdrant engines store and filter on alike: integers that fit int64 (qdrant-edge
# fails a point with 10**1200 in it with a TypeError; a server's integer index is int64),
# finite floats, and shallow nesting (metadata is for filtering; serde_json stops at 128).
MAX_METADATA_DEPTH = 5
TextType = Literal["text/plain", "text/markdown", "text/html"]


class DocumentFields(BaseModel):
    """What a client may say about a document besides its content."""

    model_config = ConfigDict(extra="forbid")

    collection: CollectionName = "default"
    document_id: DocumentId | None = Field(
        default=None, description="reuse an id to replace that document; omitted: a new id"
    )
    title: PlainText | None = Field(default=None, max_length=500, description="default: the first heading")
    source: PlainText | None = Field(default=None, max_length=1000, description="e.g. a URL or file name")
    metadata: dict[str, Any] = Field(default_factory=dict, description="kept on every chunk")
    callback_url: CallbackUrl | None = None

    @field_validator("metadata")
    @classmethod
    def _small_metadata(cls, value: dict[str, Any]) -> dict[str, Any]:
        _storable(value, 1)  # first: it bounds the nesting the serialisations below recurse into
        # Python's JSON parser lets NaN, Infinity and lone surrogates in; none of them is JSON
        # the chunk store can keep, so they are refused here rather than fail the ingest job.
        try:
            json.dumps(value, default=str, allow_nan=False, ensure_ascii=False).encode()
        except ValueError as exc:  # a lone surrogate's UnicodeEncodeError is a ValueError too
            raise ValueError("metadata must be plain JSON: no NaN or Infinity, no lone surrogates") from exc
        if len(json.dumps(value, default=str)) > MAX_METADATA_CHARS:
            raise ValueError(f"metadata must serialise to at most {MAX_METADATA_CHARS} characters")
        return value


def _storable(value: Any, depth: int) -> None:
    """Refuses what the index cannot keep, so the client gets a 422 instead of a failed job."""
    if isinstance(value, (dict, list)):
        if depth > MAX_METADATA_DEPTH:
            raise ValueError(f"metadata must nest at most {MAX_METADATA_DEPTH} objects or lists deep")
        for item in value.values() if isinstance(value, dict) else value:
            _storable(item, depth + 1)
    elif isinstance(value, int) and not isinstance(value, bool) and not INT64_MIN <= value <= INT64_MAX:
        raise ValueError("metadata integers must fit in 64 bits (-2**63 to 2**63-1)")


class DocumentCreate(DocumentFields):
    """JSON body of ``POST /documents``."""

    # Refused like a query's control characters: a JSON client typed them and can fix them (a
    # file's are stripped at parse time instead, where PDF extraction often produces them).
    text: PlainText = Field(min_length=1, json_schema_extra={"pattern": QUERY_PATTERN})
    content_type: TextType = "text/markdown"

    @field_validator("text")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if value.isspace():
            raise ValueError("text must contain some non-whitespace text")
        return value


class UploadCreate(DocumentFields):
    """Body of ``POST /documents/uploads``: ask for a presigned URL for a large file."""

    filename: PlainText = Field(min_length=1, max_length=255)
    content_type: str | None = Field(default=None, description="default: from the file name")


class SavedUpload(UploadCreate):
    """An upload ticket as ``create_upload`` keeps it for ``complete_upload``: the internal
    (tenant-scoped) collection, the content type resolved, and the tenant that may complete it."""

    collection: ScopedCollection = "default"
    content_type: str
    owner: str | None = None


class IngestRequest(BaseModel):
    """The request of an ingest job, kept on the job record; the file itself is in the blob store."""

    collection: ScopedCollection
    document_id: str
    blob_key: str
    # A presigned upload's ETag when it was completed: the worker reads only that content. None
    # for a file the API stored itself (no one else can write its key) and for older jobs.
    blob_etag: str | None = None
    filename: str | None
    content_type: str
    title: str | None = None
    source: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    callback_url: str | None = None  # checked when the client sent it


class DeleteRequest(BaseModel):
    collection: ScopedCollection
    document_id: str


class JobMessage(BaseModel):
    """The SQS message body. The job record in Valkey is the source of truth for the request;
    the message only says which job to run."""

    job_id: str
    kind: JobKind = JobKind.CHAT

"""What clients send and what travels on the queue."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

MAX_QUERY_CHARS = 2000
MAX_TOP_K = 20

CollectionName = Annotated[
    str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
]


class ChatRequest(BaseModel):
    """Body of ``POST /chat``; unknown fields are refused so typos do not pass silently."""

    model_config = ConfigDict(extra="forbid")

    query: str = Field(min_length=1, max_length=MAX_QUERY_CHARS)
    top_k: int = Field(default=5, ge=1, le=MAX_TOP_K)
    collection: CollectionName = "default"

    @field_validator("query")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        stripped = value.strip()
        if not stripped:
            raise ValueError("query must contain some non-whitespace text")
        if any(ord(ch) < 32 and ch not in "\t\n\r" for ch in stripped):
            raise ValueError("query must not contain control characters")
        return stripped


class JobMessage(BaseModel):
    """The SQS message body. The job record in Valkey is the source of truth for the request;
    the message only says which job to run."""

    job_id: str
    kind: Literal["chat"] = "chat"

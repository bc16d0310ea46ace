"""The small interfaces domain services depend on; adapters implement them."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol, Sequence

from ragcore.domain.answers import Completion, Passage
from ragcore.domain.documents import Chunk
from ragcore.domain.jobs import Job
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


class JobStore(Protocol):
    def create(self, job: Job) -> None: ...
    def get(self, job_id: str) -> Job: ...
    def get_result(self, job_id: str) -> dict | None: ...
    def delete(self, job_id: str) -> None: ...
    def claim(self, job_id: str, lease_seconds: int) -> Claim: ...
    def finish(self, job_id: str, attempt: int, result: dict) -> bool: ...
    def fail(self, job_id: str, attempt: int, error: str) -> bool: ...
    def ping(self) -> None: ...


class JobQueue(Protocol):
    def send(self, message: JobMessage) -> None: ...
    def ping(self) -> None: ...


class Embedder(Protocol):
    dimension: int

    def embed(self, texts: Sequence[str]) -> list[list[float]]: ...


class VectorIndex(Protocol):
    def upsert(self, collection: str, chunks: Sequence[Chunk], vectors: Sequence[list[float]]) -> None: ...
    def search(self, collection: str, vector: list[float], limit: int) -> list[Passage]: ...


class ChatModel(Protocol):
    def complete(self, messages: list[dict[str, str]]) -> Completion: ...

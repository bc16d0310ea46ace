"""Document use-cases on in-memory fakes: what is registered, queued, written and skipped."""

from __future__ import annotations

import time
from typing import Any

import pytest

from ragcore.domain.documents import DocumentStatus
from ragcore.domain.errors import (
    CollectionLimitError,
    DependencyUnavailableError,
    DocumentLimitError,
    DocumentNotFoundError,
    DocumentTooLargeError,
    InvalidDocumentError,
    JobBusyError,
    UploadCompletedError,
    UploadIncompleteError,
)
from ragcore.domain.jobs import JobStatus
from ragcore.domain.lifecycle import OVERDUE_ERROR
from ragcore.domain.messages import DocumentFields, JobMessage, UploadCreate
from ragcore.services import documents as service
from ragcore.domain.budget import Budget
from ragcore.services.document_jobs import DocumentJobPorts, run_document_job
from ragcore.services.job_runner import JobLimits
from ragcore.services.retries import RetryPolicy
from ragcore.services.job_runner import MessageOutcome
from ragcore.services.jobs import current_job, settle_overdue
from tests.support.fakes import (
    InMemoryBlobStore,
    InMemoryDocumentStore,
    InMemoryJobStore,
    KeywordEmbedder,
    RecordingIndex,
    RecordingQueue,
)

TEXT = b"# Skerry Point\n\nThe light was first lit in 1874."
LIMITS = service.DocumentLimits(max_upload_bytes=10_000, max_collections=3, max_documents=100)


class World:
    def __init__(self, queue_error: Exception | None = None, limits: service.DocumentLimits = LIMITS) -> None:
        self.jobs, self.queue = InMemoryJobStore(), RecordingQueue(error=queue_error)
        self.documents, self.blobs, self.index = InMemoryDocumentStore(), InMemoryBlobStore(), RecordingIndex()
        self.api = service.DocumentPorts(self.jobs, self.queue, self.documents, self.blobs, lambda kind: 600, limits)
        self.worker = DocumentJobPorts(self.jobs, self.documents, self.blobs, KeywordEmbedder(), self.index, 10_000)

    def submit(self, text: bytes = TEXT, document_id: str = "skerry") -> str:
        _, job = service.submit_file(DocumentFields(document_id=document_id), text, "a.md", "text/markdown", self.api)
        return job.job_id

    def run(self, job_id: str, kind: str = "ingest", lease_seconds: int = 60) -> MessageOutcome:
        message = JobMessage(job_id=job_id, kind=kind)
        limits = JobLimits(lease_seconds, 5, RetryPolicy(tries=1), Budget.of(60))
        return run_document_job(message, self.worker, limits)

    def result(self, job_id: str) -> dict:
        return self.jobs.get_result(job_id) or {}


def test_an_ingest_job_indexes_publishes_and_marks_the_document_ready() -> None:
    world = World()
    job_id = world.submit()
    assert world.documents.get("default", "skerry").status is DocumentStatus.INGESTING
    assert world.run(job_id) is MessageOutcome.FINISHED
    record = world.documents.get("default", "skerry")
    assert record.status is DocumentStatus.READY and record.chunks == 1 and record.title == "Skerry Point"
    assert world.index.live[("default", "skerry")] == record.content_hash
    assert world.result(job_id)["action"] == "created"


def test_same_content_is_not_reembedded_and_new_content_replaces_the_old() -> None:
    world = World()
    world.run(world.submit())
    first = dict(world.index.chunks["default"])
    again = world.submit()
    world.run(again)
    assert world.result(again)["action"] == "unchanged" and world.index.chunks["default"] == first
    changed = world.submit(b"# Skerry Point\n\nAutomated in 1987.")
    world.run(changed)
    assert world.result(changed)["action"] == "replaced"
    assert [c.text for c in world.index.chunks["default"].values()] == ["Skerry Point\nAutomated in 1987."]


def test_a_failed_send_leaves_neither_job_nor_registry_entry_behind() -> None:
    world = World(queue_error=DependencyUnavailableError("queue"))
    with pytest.raises(DependencyUnavailableError):
        world.submit()
    assert world.jobs.jobs == {} and world.documents.records == {}


def test_a_failed_send_restores_the_previous_registry_entry() -> None:
    world = World()
    world.run(world.submit())
    before = world.documents.get("default", "skerry")
    world.queue.error = DependencyUnavailableError("queue")
    with pytest.raises(DependencyUnavailableError):
        world.submit(b"new text")
    assert world.documents.get("default", "skerry") == before


def test_an_older_job_that_was_superseded_leaves_the_index_alone() -> None:
    world = World()
    old = world.submit(b"old text")
    new = world.submit(b"new text")
    world.run(new)
    assert world.run(old) is MessageOutcome.FINISHED and world.result(old)["action"] == "superseded"
    assert [c.text for c in world.index.chunks["default"].values()] == ["new text"]


def test_a_delete_that_arrives_before_an_older_ingest_wins() -> None:
    world = World()
    world.run(world.submit())
    late_ingest = world.submit(b"late text")
    _, delete = service.submit_delete("default", "skerry", world.api)
    world.run(delete.job_id, "delete")
    world.run(late_ingest)
    assert world.documents.get("default", "skerry") is None
    assert world.index.chunks["default"] == {}


def test_a_locked_document_sends_the_job_back_to_the_queue() -> None:
    world = World()
    job_id = world.submit()
    world.documents.lock("default", "skerry", "someone-else", 60)
    with pytest.raises(JobBusyError):
        world.run(job_id, lease_seconds=0)  # the job's own lease has run out by the redelivery
    world.documents.unlock("default", "skerry", "someone-else")
    assert world.run(job_id) is MessageOutcome.FINISHED


def test_deleting_an_unknown_document_is_an_error() -> None:
    with pytest.raises(DocumentNotFoundError):
        service.submit_delete("default", "nope", World().api)


def test_an_upload_ticket_reserves_an_id_and_completing_it_queues_the_ingest() -> None:
    world = World()
    ticket = service.create_upload(UploadCreate(filename="log.md"), world.api)
    assert ticket.content_type == "text/markdown" and ticket.document_id
    # The form is signed for this key, this type and at most the upload limit.
    key = f"uploads/{ticket.upload_id}"
    assert ticket.form.fields["key"] == key and world.blobs.posts[key] == ("text/markdown", 10_000)
    with pytest.raises(UploadIncompleteError):
        service.complete_upload(ticket.upload_id, world.api)
    world.blobs.put(key, TEXT, "text/markdown")
    record, job = service.complete_upload(ticket.upload_id, world.api)
    assert record.document_id == ticket.document_id and record.size_bytes == len(TEXT)
    assert world.run(job.job_id) is MessageOutcome.FINISHED


def test_completing_an_upload_larger_than_the_limit_is_refused() -> None:
    world = World(limits=service.DocumentLimits(max_upload_bytes=10, max_collections=3, max_documents=100))
    ticket = service.create_upload(UploadCreate(filename="log.md"), world.api)
    world.blobs.put(f"uploads/{ticket.upload_id}", TEXT, "text/markdown")
    with pytest.raises(DocumentTooLargeError):
        service.complete_upload(ticket.upload_id, world.api)
    assert world.queue.sent == []


def test_completing_an_upload_twice_is_refused() -> None:
    world = World()
    ticket = service.create_upload(UploadCreate(filename="log.md"), world.api)
    world.blobs.put(f"uploads/{ticket.upload_id}", TEXT, "text/markdown")
    service.complete_upload(ticket.upload_id, world.api)
    with pytest.raises(UploadCompletedError):
        service.complete_upload(ticket.upload_id, world.api)


def test_a_file_written_to_the_upload_url_after_complete_changes_nothing() -> None:
    world = World()
    ticket = service.create_upload(UploadCreate(filename="log.md", document_id="log"), world.api)
    world.blobs.put(f"uploads/{ticket.upload_id}", TEXT, "text/markdown")
    _, job = service.complete_upload(ticket.upload_id, world.api)
    # The checked file was copied where no form can write, and the form's object deleted.
    assert job.request["blob_key"] == f"completed/{ticket.upload_id}"
    assert world.blobs.blobs[f"completed/{ticket.upload_id}"] == TEXT
    assert f"uploads/{ticket.upload_id}" not in world.blobs.blobs
    replay = b"# Replaced\n\nSomething else."
    world.blobs.put(f"uploads/{ticket.upload_id}", replay, "text/markdown")  # the form POSTed again
    assert world.run(job.job_id) is MessageOutcome.FINISHED
    assert ("default", "log") in world.index.live
    texts = " ".join(chunk.text for chunk in world.index.chunks["default"].values())
    assert "Something else" not in texts and texts.strip()


def test_a_file_changed_between_the_size_check_and_the_copy_is_not_queued() -> None:
    world = World()
    ticket = service.create_upload(UploadCreate(filename="log.md"), world.api)
    key = f"uploads/{ticket.upload_id}"
    world.blobs.put(key, TEXT, "text/markdown")
    real_head = world.blobs.head

    def head_then_replay(k: str):  # type: ignore[no-untyped-def]
        answer = real_head(k)
        world.blobs.put(key, b"x" * 20_000, "text/markdown")  # a POST racing ``complete``
        return answer

    world.blobs.head = head_then_replay  # type: ignore[method-assign]
    with pytest.raises(InvalidDocumentError, match="changed while it was being completed"):
        service.complete_upload(ticket.upload_id, world.api)
    assert world.queue.sent == [] and f"completed/{ticket.upload_id}" not in world.blobs.blobs


def _in(collection: str, fields: DocumentFields | UploadCreate | None = None) -> Any:
    """``fields`` as the API hands them on: in a tenant's scoped collection."""
    return (fields or DocumentFields()).model_copy(update={"collection": collection})


def test_a_new_collection_past_the_tenants_cap_is_refused_with_nothing_queued() -> None:
    world = World()
    for name in ("a", "b", "c"):
        service.submit_file(_in(f"acme~{name}"), TEXT, "a.md", "text/markdown", world.api)
    sent = len(world.queue.sent)
    with pytest.raises(CollectionLimitError):
        service.submit_file(_in("acme~d"), TEXT, "a.md", "text/markdown", world.api)
    with pytest.raises(CollectionLimitError):
        service.create_upload(_in("acme~d", UploadCreate(filename="log.md")), world.api)
    assert len(world.queue.sent) == sent and not world.documents.list("acme~d", 0, 1)[1]
    # Its known collections still take documents, and another tenant has its own cap.
    service.submit_file(_in("acme~a"), TEXT, "a.md", "text/markdown", world.api)
    service.submit_file(_in("other~d"), TEXT, "a.md", "text/markdown", world.api)


def test_a_new_document_in_a_full_collection_is_refused_but_a_replacement_is_not() -> None:
    world = World(limits=service.DocumentLimits(max_upload_bytes=10_000, max_collections=3, max_documents=2))
    world.submit(document_id="one")
    world.submit(document_id="two")
    sent = len(world.queue.sent)
    with pytest.raises(DocumentLimitError):
        world.submit(document_id="three")
    with pytest.raises(DocumentLimitError):
        service.create_upload(UploadCreate(filename="log.md"), world.api)
    assert len(world.queue.sent) == sent and world.documents.get("default", "three") is None
    world.submit(b"new text", document_id="two")  # a replacement takes no new place


def test_an_upload_completed_into_a_collection_filled_meanwhile_is_refused() -> None:
    world = World(limits=service.DocumentLimits(max_upload_bytes=10_000, max_collections=3, max_documents=1))
    ticket = service.create_upload(UploadCreate(filename="log.md"), world.api)
    world.submit(document_id="first")
    world.blobs.put(f"uploads/{ticket.upload_id}", TEXT, "text/markdown")
    with pytest.raises(DocumentLimitError):
        service.complete_upload(ticket.upload_id, world.api)
    assert world.jobs.jobs.get(ticket.upload_id) is None


def test_the_worker_refuses_a_file_grown_past_the_limit_after_completion() -> None:
    world = World()
    job_id = world.submit()
    world.blobs.blobs[f"uploads/{job_id}"] = b"x" * 20_000  # re-PUT through a still-valid URL
    assert world.run(job_id) is MessageOutcome.FAILED
    assert "limit" in (world.jobs.get(job_id).error or "")
    assert world.documents.get("default", "skerry").status is DocumentStatus.FAILED


def test_an_overdue_document_job_read_by_its_client_fails_its_document_too() -> None:
    """A worker that died on the last delivery leaves the job and its document ``ingesting``:
    the client's next read settles both, as the worker's failure would have."""
    world = World()
    job_id = world.submit()
    world.jobs.jobs[job_id].deadline_at = time.time() - 1
    job = settle_overdue(current_job(world.jobs, job_id), world.jobs, world.documents)
    assert job.status is JobStatus.FAILED and job.error == OVERDUE_ERROR
    document = world.documents.get("default", "skerry")
    assert document.status is DocumentStatus.FAILED and document.error == OVERDUE_ERROR


def test_a_newer_upload_during_indexing_wins_the_registry() -> None:
    world = World()
    old = world.submit(b"old text")
    real_publish = world.index.publish

    def publish_then_newer_arrives(collection: str, document_id: str, version: str) -> None:
        real_publish(collection, document_id, version)
        world.submit(b"new text")  # accepted by the API while the old job is still indexing

    world.index.publish = publish_then_newer_arrives  # type: ignore[method-assign]
    world.run(old)
    assert world.result(old)["action"] == "superseded"
    record = world.documents.get("default", "skerry")
    assert record.status is DocumentStatus.INGESTING  # the newer job still owns the entry

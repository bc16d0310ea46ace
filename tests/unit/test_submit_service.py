import pytest

from ragcore.domain.errors import DependencyUnavailableError
from ragcore.domain.jobs import JobStatus
from ragcore.domain.messages import ChatRequest
from ragcore.services.submit import submit_chat
from tests.support.fakes import InMemoryConversationStore, InMemoryJobStore, RecordingQueue


def test_records_the_job_then_enqueues_it() -> None:
    store, queue = InMemoryJobStore(), RecordingQueue()
    conversations = InMemoryConversationStore()
    job = submit_chat(ChatRequest(query="hi"), store, conversations, queue, 600)
    assert store.get(job.job_id).status is JobStatus.QUEUED
    assert [m.job_id for m in queue.sent] == [job.job_id]
    conversation = conversations.conversations[job.request["conversation_id"]]
    assert [turn.job_id for turn in conversation.turns] == [job.job_id]


def test_a_failed_send_removes_the_record_again() -> None:
    store, queue = InMemoryJobStore(), RecordingQueue(error=DependencyUnavailableError("queue"))
    with pytest.raises(DependencyUnavailableError):
        submit_chat(ChatRequest(query="hi"), store, conversations := InMemoryConversationStore(), queue, 600)
    assert store.jobs == {} and conversations.conversations == {}

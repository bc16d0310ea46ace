"""``submit_chats``: a batch's jobs recorded one by one, sent together, and undone where the
queue did not take their messages."""

import pytest

from ragcore.domain.errors import ConversationNotFoundError, DependencyUnavailableError
from ragcore.domain.jobs import Job, JobStatus
from ragcore.domain.messages import ChatRequest
from ragcore.services.submit import submit_chats
from tests.support.fakes import InMemoryConversationStore, InMemoryJobStore, RecordingQueue

QUESTIONS = [ChatRequest(query=f"question {i}") for i in range(5)]


def test_every_job_is_recorded_and_its_message_sent() -> None:
    store, queue = InMemoryJobStore(), RecordingQueue()
    outcomes = submit_chats(QUESTIONS, store, InMemoryConversationStore(), queue, 600, owner="t1")
    assert all(isinstance(o, Job) for o in outcomes)
    assert [store.get(o.job_id).request["query"] for o in outcomes] == [q.query for q in QUESTIONS]
    assert [m.job_id for m in queue.sent] == [o.job_id for o in outcomes]
    assert {store.get(o.job_id).owner for o in outcomes} == {"t1"}


def test_entries_the_queue_refused_are_undone_and_reported_alone() -> None:
    """SQS answers a batch call with each entry's fate: the refused ones' records go, the
    others' jobs stand."""
    store, queue = InMemoryJobStore(), RecordingQueue(refuse=[1, 3])
    outcomes = submit_chats(QUESTIONS, store, InMemoryConversationStore(), queue, 600)
    assert [type(o) for o in outcomes] == [Job, DependencyUnavailableError, Job, DependencyUnavailableError, Job]
    jobs = [o for o in outcomes if isinstance(o, Job)]
    assert set(store.jobs) == {j.job_id for j in jobs} == {m.job_id for m in queue.sent}
    assert all(store.get(j.job_id).status is JobStatus.QUEUED for j in jobs)


def test_a_queue_that_is_down_leaves_no_job() -> None:
    store = InMemoryJobStore()
    outcomes = submit_chats(QUESTIONS, store, InMemoryConversationStore(), RecordingQueue(error=DependencyUnavailableError("queue")), 600)
    assert all(isinstance(o, DependencyUnavailableError) for o in outcomes)
    assert store.jobs == {}


class _FailingAfter(InMemoryJobStore):
    def __init__(self, writes: int) -> None:
        super().__init__()
        self.writes = writes

    def create(self, job: Job) -> None:
        if len(self.jobs) == self.writes:
            raise DependencyUnavailableError("valkey", "ConnectionError")
        super().create(job)


def test_valkey_failing_midway_removes_the_records_written_and_sends_nothing() -> None:
    store, queue = _FailingAfter(writes=3), RecordingQueue()
    with pytest.raises(DependencyUnavailableError):
        submit_chats(QUESTIONS, store, InMemoryConversationStore(), queue, 600)
    assert store.jobs == {} and queue.sent == []


def test_a_question_its_record_refuses_is_refused_alone() -> None:
    """An unknown conversation refuses its question (as POST /chat would, 404); the others
    are queued, each in a conversation of its own."""
    store, queue, conversations = InMemoryJobStore(), RecordingQueue(), InMemoryConversationStore()
    unknown = ChatRequest(query="and then?", conversation_id="f" * 32)
    outcomes = submit_chats([QUESTIONS[0], unknown, QUESTIONS[1]], store, conversations, queue, 600)
    assert isinstance(outcomes[1], ConversationNotFoundError)
    jobs = [outcomes[0], outcomes[2]]
    assert all(isinstance(j, Job) for j in jobs) and len(queue.sent) == 2
    assert len({store.get(j.job_id).request["conversation_id"] for j in jobs}) == 2  # type: ignore[union-attr]

"""``SqsJobQueue.send_batch``'s answer to SQS's partial failures, with a stand-in client that
answers as SQS does (tests/integration/test_sqs_queue.py sends real batches to LocalStack)."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import EndpointConnectionError

from ragcore.adapters.sqs_queue import SqsJobQueue
from ragcore.domain.jobs import new_job_id
from ragcore.domain.messages import JobMessage


class _Sqs:
    """Records each SendMessageBatch call; fails the entries in ``refuse`` (as SQS does: the
    call succeeds, the answer lists them under Failed), or every call from ``down_from`` on."""

    def __init__(self, refuse: set[str] = frozenset(), down_from: int | None = None) -> None:  # type: ignore[assignment]
        self.calls: list[tuple[str, list[dict]]] = []
        self.refuse = refuse
        self.down_from = down_from

    def send_message_batch(self, QueueUrl: str, Entries: list[dict]) -> dict[str, Any]:  # noqa: N803
        self.calls.append((QueueUrl, Entries))
        if self.down_from is not None and len(self.calls) > self.down_from:
            raise EndpointConnectionError(endpoint_url=QueueUrl)
        return {
            "Successful": [{"Id": e["Id"]} for e in Entries if e["Id"] not in self.refuse],
            "Failed": [{"Id": e["Id"], "Code": "InternalError", "SenderFault": False}
                       for e in Entries if e["Id"] in self.refuse],
        }


def _messages(n: int, kind: str = "chat") -> list[JobMessage]:
    return [JobMessage(job_id=new_job_id(), kind=kind) for _ in range(n)]


def test_messages_go_ten_a_call_each_kind_to_its_queue() -> None:
    sqs = _Sqs()
    chats, ingests = _messages(25), _messages(3, "ingest")
    assert SqsJobQueue(sqs, "jobs-url", "ingest-url").send_batch([*chats, *ingests]) == []
    assert [(url, len(entries)) for url, entries in sqs.calls] == [
        ("ingest-url", 3), ("jobs-url", 10), ("jobs-url", 10), ("jobs-url", 5)]
    assert [e["Id"] for url, entries in sqs.calls if url == "jobs-url" for e in entries] == [
        m.job_id for m in chats]


def test_the_entries_sqs_refused_are_returned_unsent() -> None:
    messages = _messages(12)
    refused = {messages[2].job_id, messages[11].job_id}
    unsent = SqsJobQueue(_Sqs(refuse=refused), "jobs-url").send_batch(messages)
    assert [m.job_id for m in unsent] == [messages[2].job_id, messages[11].job_id]


def test_a_failed_call_stops_the_sending() -> None:
    """The second call fails (the queue went away): it and every later batch come back unsent,
    without more calls, each of which would wait out botocore's retries."""
    sqs = _Sqs(down_from=1)
    messages = _messages(35)
    unsent = SqsJobQueue(sqs, "jobs-url").send_batch(messages)
    assert unsent == messages[10:] and len(sqs.calls) == 2

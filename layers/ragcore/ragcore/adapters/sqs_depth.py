"""How many messages each job queue and its dead-letter queue hold (SQS's approximate
counters), for ``ragcore stats``."""

from __future__ import annotations

from typing import Any

from ragcore.adapters.sqs_dead_letters import dead_letter_url
from ragcore.adapters.sqs_queue import sqs_errors
from ragcore.ports import QueueDepth

_COUNTERS = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
             "ApproximateNumberOfMessagesDelayed"]


def queue_depths(client: Any, queues: dict[str, str]) -> dict[str, QueueDepth]:
    """``queues``: name -> URL. Each queue, then its dead-letter queue as ``<name>-dlq``
    (found from the queue's RedrivePolicy)."""
    depths: dict[str, QueueDepth] = {}
    with sqs_errors():
        for name, url in queues.items():
            attributes = client.get_queue_attributes(QueueUrl=url, AttributeNames=[*_COUNTERS, "RedrivePolicy"])
            depths[name] = _depth(attributes["Attributes"])
            dlq_url = dead_letter_url(client, attributes["Attributes"])
            if dlq_url is not None:
                dlq = client.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=_COUNTERS)["Attributes"]
                depths[f"{name}-dlq"] = _depth(dlq)
    return depths


def _depth(attributes: dict[str, str]) -> QueueDepth:
    return QueueDepth(
        visible=int(attributes.get(_COUNTERS[0], 0)),
        in_flight=int(attributes.get(_COUNTERS[1], 0)),
        delayed=int(attributes.get(_COUNTERS[2], 0)),
    )

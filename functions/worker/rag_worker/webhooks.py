"""The Lambda entry point ``rag_worker.webhooks.handler``: delivers completion webhooks.

Fed by the webhook queue (``WebhookFunction`` in template.yaml). Each record names a job that
ended; ``services.webhooks.deliver`` POSTs its result document. The records of a batch are
delivered at once, a thread each, so one slow receiver does not hold up the others. A record
to be tried again is reported in ``batchItemFailures`` after its message's visibility is set to
the schedule's next delay (so retries back off over the schedule, not the queue's fixed
timeout); after the last attempt the message goes to the dead-letter queue.
"""

from __future__ import annotations

import json
import math
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from aws_lambda_powertools import Logger

from ragcore.bootstrap import get_container
from ragcore.domain.callbacks import post_deadline_seconds
from ragcore.domain.errors import RagError
from ragcore.observability.logs import route_core_logs
from ragcore.services.webhooks import RetryDelivery, WebhookPorts, deliver

logger = Logger(service="ragcore-webhooks")
route_core_logs(logger)

MAX_RECORD_THREADS = 10  # the template's BatchSize


def _ports() -> WebhookPorts:
    container = get_container()
    s = container.settings
    return WebhookPorts(
        jobs=container.job_store, deliveries=container.webhook_store, secrets=container.webhook_secrets,
        sender=container.webhook_sender, schedule=s.webhook_schedule,
        # A claim outlasts one attempt: its POST's deadline, and the Valkey reads and writes
        # around it (20 s with the 5 s timeout).
        claim_seconds=math.ceil(post_deadline_seconds(s.webhook_timeout_seconds)) + 10,
    )


def _process(record: dict[str, Any], ports: WebhookPorts) -> bool:
    """True: done with the message. Any error is this record's alone: it is reported as a
    batch item failure, so it comes back (and after the last receive goes to the dead-letter
    queue) while the batch's other deliveries stand."""
    try:
        return _deliver(record, ports)
    except Exception:  # a bug or an error nobody mapped: logged with its traceback
        logger.exception("webhook record failed", message_id=record.get("messageId"))
        return False


def _deliver(record: dict[str, Any], ports: WebhookPorts) -> bool:
    """True: done with the message (delivered, given up or nothing to send)."""
    job_id = json.loads(record["body"])["job_id"]
    receive_count = int(record.get("attributes", {}).get("ApproximateReceiveCount", 1))
    try:
        outcome = deliver(job_id, receive_count, ports)
    except RetryDelivery as retry:
        logger.info("webhook not delivered; tried again later", job_id=job_id, delay_seconds=retry.seconds,
                    reason=str(retry))
        try:
            get_container().webhook_queue.redeliver_in(record["receiptHandle"], retry.seconds)  # type: ignore[union-attr]
        except RagError as exc:  # the queue's own visibility timeout applies instead
            logger.warning("retry delay not set", job_id=job_id, error=str(exc))
        return False
    except RagError as exc:  # Valkey down, say: back after the queue's visibility timeout
        logger.warning("webhook delivery failed", job_id=job_id, error=type(exc).__name__, reason=str(exc))
        return False
    logger.info("webhook processed", job_id=job_id, outcome=outcome.value, receive_count=receive_count)
    return True


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    records = event.get("Records") or []
    ports = _ports()
    with ThreadPoolExecutor(max(1, min(len(records), MAX_RECORD_THREADS))) as pool:
        done = list(pool.map(lambda record: _process(record, ports), records))
    return {"batchItemFailures": [{"itemIdentifier": r["messageId"]} for r, ok in zip(records, done) if not ok]}

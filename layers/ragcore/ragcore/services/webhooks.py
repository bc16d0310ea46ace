"""Completion webhooks: announcing every job that ends, and delivering its result document.

**Announcing.** ``AnnouncingJobStore`` wraps the job store (``bootstrap`` applies it), so the
one place that sees every transition sees every end, whoever makes it: the worker (finish,
fail, honour a cancel), the API (cancel a queued job, settle an overdue one) or the redrive
(a requeue a requested cancel turns into a stop). A transition that ends a job answers
``ended`` to exactly one caller, and that call queues one delivery message for a job with a
``callback_url``. A job message that comes back for a job already final (``claim`` refused)
queues it again: if the process died between the end and the send, or the send failed (then
``WebhookNotQueuedError`` fails the worker's record, so its message does come back), the
job's own message heals it. Repeats are harmless: the delivery is done once, by its state.

**Delivering** (``deliver``, one queue message): the job's delivery is claimed (a key in the
job's slot, so two messages for one job never POST at once, and a delivered or given-up one
is never POSTed again), the document ``GET /result`` answers is POSTed, signed per Standard
Webhooks with the tenant's secrets, and the outcome recorded. 2xx is delivered, 410 (or an
address the service may not call) gives up, anything else is tried again after the schedule's
next delay; after the last attempt the delivery is failed and the message goes on to the
dead-letter queue. ``webhook-id`` is the job's (``callbacks.webhook_id``), on every attempt.
"""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from enum import StrEnum
from typing import Any, Iterable

from standardwebhooks import Webhook

from ragcore.api_schema import final_document
from ragcore.domain.callbacks import RetrySchedule, Verdict, WebhookDelivery, WebhookState, verdict, webhook_id
from ragcore.domain.errors import (
    CallbackRefusedError,
    CallbackUnreachableError,
    JobNotFoundError,
    RagError,
    WebhookNotQueuedError,
)
from ragcore.domain.jobs import Job, JobStatus
from ragcore.domain.lifecycle import Outcome, Transition
from ragcore.ports import JobStore, WebhookQueue, WebhookSecrets, WebhookSender, WebhookStore

log = logging.getLogger(__name__)


def callback_of(job: Job) -> str | None:
    return job.request.get("callback_url")


class AnnouncingJobStore:
    """A ``ports.JobStore`` that queues a delivery for each job it sees end (module docstring)."""

    _ENDING = ("finish", "fail", "honour_cancel", "retry_later", "fail_overdue", "request_cancel", "requeue")

    def __init__(self, store: JobStore, queue: WebhookQueue) -> None:
        self._store = store
        self._queue = queue

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._store, name)
        if name not in self._ENDING:
            return attribute

        def transition(*args: Any, **kwargs: Any) -> Transition:
            done: Transition = attribute(*args, **kwargs)
            if done.ended:
                self._announce(done.job)
            return done

        return transition

    def claim(self, job_id: str, lease_seconds: int) -> Transition:
        claimed = self._store.claim(job_id, lease_seconds)
        if claimed.outcome is Outcome.REFUSED and claimed.job is not None and claimed.job.status.is_terminal:
            self._announce(claimed.job)  # a job message back for a final job: announce it again
        return claimed

    def _announce(self, job: Job | None) -> None:
        if job is None or callback_of(job) is None:
            return
        try:
            self._queue.send(job.job_id)
        except RagError as exc:
            log.error("job ended but its webhook was not queued: %s", exc, extra={"job_id": job.job_id})
            raise WebhookNotQueuedError(f"the webhook of job {job.job_id} could not be queued") from exc


def webhooks_of(jobs: Iterable[Job], deliveries: WebhookStore) -> dict[str, WebhookDelivery]:
    """The webhook of each job with a callback URL, by job id, as its status shows it
    (``pending`` until a delivery has been tried), read at once; jobs without one cost nothing."""
    wanted = [job.job_id for job in jobs if callback_of(job) is not None]
    found = deliveries.get_many(wanted) if wanted else {}
    return {job_id: found.get(job_id) or WebhookDelivery(id=webhook_id(job_id), state=WebhookState.PENDING)
            for job_id in wanted}


@dataclass(frozen=True)
class WebhookPorts:
    jobs: JobStore
    deliveries: WebhookStore
    secrets: WebhookSecrets
    sender: WebhookSender
    schedule: RetrySchedule
    claim_seconds: int  # longer than one POST may take (its deadline) and the Valkey calls around it


class DeliveryOutcome(StrEnum):
    DELIVERED = "delivered"
    FAILED = "failed"  # given up: the message is done
    SKIPPED = "skipped"  # nothing to send: delivered already, no callback, no job


class RetryDelivery(Exception):
    """The message should come back after ``seconds`` (0: at once, to the dead-letter queue)."""

    def __init__(self, seconds: int, reason: str) -> None:
        super().__init__(reason)
        self.seconds = seconds


def signed_headers(job_id: str, body: str, secrets: list[str], at: datetime) -> dict[str, str]:
    """Standard Webhooks' three headers: one ``v1,`` signature per secret, space-separated."""
    msg_id = webhook_id(job_id)
    signatures = " ".join(Webhook(secret).sign(msg_id, at, body) for secret in secrets)
    return {"webhook-id": msg_id, "webhook-timestamp": str(int(at.timestamp())), "webhook-signature": signatures}


def deliver(job_id: str, receive_count: int, ports: WebhookPorts) -> DeliveryOutcome:
    """One delivery message (module docstring); raises ``RetryDelivery`` to be tried again."""
    try:
        job = ports.jobs.get(job_id)
    except JobNotFoundError:
        log.warning("job expired before its webhook was delivered", extra={"job_id": job_id})
        return DeliveryOutcome.SKIPPED
    url = callback_of(job)
    if url is None or not job.status.is_terminal:
        return DeliveryOutcome.SKIPPED  # no callback, or a redriven job running again
    token = uuid.uuid4().hex
    claim = ports.deliveries.claim(job_id, token, ports.claim_seconds)
    if claim.delivery.state.is_final:
        return DeliveryOutcome.SKIPPED
    if not claim.granted:
        raise RetryDelivery(ports.claim_seconds, "another delivery of this job is in progress")
    attempt = max(claim.delivery.attempts + 1, receive_count)
    last = attempt >= ports.schedule.max_attempts

    def record(state: WebhookState, status: int | None, error: str | None) -> None:
        if not ports.deliveries.record(job_id, token, state, status, error):
            log.warning("webhook claim lost while posting; outcome not recorded", extra={"job_id": job_id})

    status, error = None, None
    secrets = ports.secrets.signing(job.owner)
    if not secrets:
        error = (f"no webhook signing secret for tenant {job.owner or '(none)'}: create one with "
                 f"`ragcore webhooks secret create{' --tenant ' + job.owner if job.owner else ''}`")
    else:
        outcome = ports.jobs.get_result(job_id) if job.status is JobStatus.FINISHED else None
        try:
            document = final_document(job, outcome)[1]
        except JobNotFoundError:  # expired since it was read: as above
            log.warning("job expired before its webhook was delivered", extra={"job_id": job_id})
            return DeliveryOutcome.SKIPPED
        body = json.dumps(document, separators=(",", ":"), ensure_ascii=False)
        headers = {"Content-Type": "application/json", "User-Agent": "ragcore-webhooks",
                   **signed_headers(job_id, body, secrets, datetime.now(timezone.utc))}
        try:
            status = ports.sender.post(url, body.encode(), headers)
        except CallbackRefusedError as exc:
            record(WebhookState.FAILED, None, str(exc))
            return DeliveryOutcome.FAILED
        except CallbackUnreachableError as exc:
            error = str(exc)
        else:
            judged = verdict(status)
            if judged is Verdict.DELIVERED:
                record(WebhookState.DELIVERED, status, None)
                return DeliveryOutcome.DELIVERED
            if judged is Verdict.GIVE_UP:
                record(WebhookState.FAILED, status, "the receiver answered 410 Gone: no more attempts")
                return DeliveryOutcome.FAILED
            error = f"the receiver answered {status}"
    if last:
        record(WebhookState.FAILED, status, f"gave up after {attempt} attempts: {error}")
        raise RetryDelivery(0, "out of attempts: to the dead-letter queue")
    record(WebhookState.RETRYING, status, error)
    raise RetryDelivery(ports.schedule.delay(attempt), error or "")

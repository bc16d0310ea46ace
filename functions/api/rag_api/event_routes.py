"""``GET /jobs/{job_id}/events``: a job followed as server-sent events (docs/STREAMING.md).

Served by StreamFunction, the same app under the AWS Lambda Web Adapter, whose answers API
Gateway streams (template.yaml); offline, by the local gateway through the same adapter's
stand-in (``ragcore.local.web_adapter``). Unlike the other routes, this one waits: it runs
under uvicorn, whose one event loop serves every open stream, so each store call (a blocking
Valkey read, up to ``POLL_MS``) runs on a worker thread, never on the loop."""

from __future__ import annotations

import json
import time
from typing import Annotated, AsyncIterator

from anyio import to_thread
from aws_lambda_powertools import Logger
from fastapi import APIRouter, Header, Query, Request
from sse_starlette import EventSourceResponse, ServerSentEvent

from ragcore.bootstrap import Container
from ragcore.domain.jobs import Job
from ragcore.observability.logs import correlate
from ragcore.services.job_events import JobFollower

from .auth import Caller
from .errors import KEYED, responses
from .routes import ContainerDep, JobId, settled_job

router = APIRouter()  # app.py puts the API-key check in front of it
logger = Logger(service="ragcore-api", child=True)  # the app's logger (app.py), its lines' format

PING_SECONDS = 15  # a comment (": ping") on sse-starlette's fixed timer, well inside idle timeouts
POLL_MS = 1000  # the longest one read waits for an event
# A stream entry id, <ms>-<seq>; empty: none (from the start). Valkey's parts are unsigned
# 64-bit integers, and it would refuse a larger one only inside the stream, after the 200:
# 19 digits stay below 2**64 (an id's ms has 13), and the schema says exactly what is taken.
EVENT_ID = r"^(\d{1,19}-\d{1,19})?$"
_ID_DESCRIPTION = "the id of the last event received: the stream resumes after it"


@router.get(
    "/jobs/{job_id}/events",
    response_class=EventSourceResponse,
    responses={
        200: {"content": {"text/event-stream": {"schema": {"type": "string"}}},
              "description": "`status`, `delta` and a final `result` or `error` event, each with an `id:`; "
                             "`: ping` comments every 15 s. Ends after the final event or "
                             "EVENTS_MAX_SECONDS: reconnect with `Last-Event-ID`"},
        **responses(*KEYED, 404, 422),
    },
    summary="Follow a job: its status changes, its answer as it is written, then its result",
)
async def job_events(
    job_id: JobId,
    request: Request,
    container: ContainerDep,
    key: Caller,
    last_event_id: Annotated[str, Query(pattern=EVENT_ID, description=_ID_DESCRIPTION)] = "",
    last_event_id_header: Annotated[
        str, Header(alias="Last-Event-ID", pattern=EVENT_ID, description=_ID_DESCRIPTION)
    ] = "",
) -> EventSourceResponse:
    # Read (404 for another tenant's job, settled if overdue) before the 200 goes out.
    job = await to_thread.run_sync(settled_job, container, job_id, key)
    after = last_event_id_header or last_event_id or None
    return EventSourceResponse(
        _events(container, job, after, _request_id(request)),
        ping=PING_SECONDS,
        ping_message_factory=lambda: ServerSentEvent(comment="ping"),
    )


def _request_id(request: Request) -> str | None:
    """API Gateway's id of the request, which the web adapter passes in
    ``x-amzn-request-context``: the stream's log line is correlated by it, as every request's."""
    try:
        context = json.loads(request.headers.get("x-amzn-request-context") or "{}")
    except ValueError:
        return None
    return context.get("requestId") if isinstance(context, dict) else None


async def _events(
    container: Container, job: Job, after: str | None, request_id: str | None
) -> AsyncIterator[ServerSentEvent]:
    follower = JobFollower(container.job_store, container.document_store, job, after)
    started = time.monotonic()
    ends_at = started + container.settings.events_max_seconds
    sent = 0
    try:
        while not follower.done and (left := ends_at - time.monotonic()) > 0:
            for event in await to_thread.run_sync(follower.poll, min(POLL_MS, int(left * 1000))):
                sent += 1
                yield ServerSentEvent(data=json.dumps(event.data, separators=(",", ":")), event=event.event,
                                      id=event.id)
    finally:
        # One line per stream, as logged_request writes one per buffered request: how long
        # it was open, what it sent, and whether it ended with the job (else the client left,
        # or EVENTS_MAX_SECONDS ended it).
        correlate(logger, correlation_id=request_id)
        logger.info("events", job_id=job.job_id, resumed=after is not None, events=sent, final=follower.done,
                    duration_ms=round((time.monotonic() - started) * 1000, 1))

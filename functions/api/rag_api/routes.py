"""HTTP routes: parse, call the core, shape the response. Nothing else lives here.

Routes and their dependencies are ``async def`` although they call blocking adapters (Valkey,
SQS): a Lambda instance serves one request at a time, and the local gateway gives each request
a thread and an event loop of its own, so nothing else waits on that loop. A sync route or
dependency would instead be run on a worker thread, and since every Mangum call ends its loop,
anyio starts those threads anew for each request: that cost more CPU than the route's own work
(bench/api.py, docs/PERFORMANCE.md)."""

from __future__ import annotations

import time
from typing import Annotated, Callable

from fastapi import APIRouter, Body, Depends, Path, Request
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from ragcore.api_schema import (
    Accepted,
    Check,
    Health,
    JobResult,
    JobStatusView,
    NotReady,
    final_document,
    links_for,
)
from ragcore.bootstrap import Container, get_container
from ragcore.domain.errors import DependencyUnavailableError, JobNotCancellableError
from ragcore.domain.api_keys import ApiKey
from ragcore.domain.job_kinds import JobKind
from ragcore.domain.jobs import JOB_ID_PATTERN, Job, JobStatus
from ragcore.domain.messages import ChatRequest
from ragcore.services.jobs import cancel_job, current_job, settle_overdue
from ragcore.services.submit import submit_chat
from ragcore.services.webhooks import webhooks_of

from .auth import Caller, in_scope, owner_of
from .errors import JSON_BODY, KEYED, RETRY_AFTER_HEADER, error_response, responses

public_router = APIRouter()  # no key needed
router = APIRouter()  # app.py puts the API-key check in front of these


async def _container() -> Container:
    return get_container()


ContainerDep = Annotated[Container, Depends(_container)]
JobId = Annotated[
    str, Path(pattern=JOB_ID_PATTERN.pattern, description="32 lower-case hex characters")
]
POLL_AFTER_SECONDS = "2"
_JOB_ERRORS = (*KEYED, 404, 422)  # a route on one job: unknown (or another tenant's), malformed id
ChatBody = Annotated[ChatRequest, Body(openapi_examples={
    "question": {"summary": "a question, default retrieval",
                 "value": {"query": "When was Skerry Point Lighthouse first lit?"}},
    "tuned": {"summary": "every field",
              "value": {"query": "How far away can the Skerry Point light be seen?", "top_k": 3,
                        "collection": "default", "mode": "dense"}},
    "follow-up": {"summary": "a follow-up in the conversation an earlier answer named",
                  "value": {"query": "When was it automated?", "conversation_id": "9c4e1f0a7b3d4e2c8f6a5b1d0e9c7a34"}},
    "filtered": {"summary": "only some documents (see docs/RETRIEVAL.md, Filters)",
                 "value": {"query": "When was it first lit?", "filter": {
                     "document_ids": ["skerry-point-lighthouse"], "metadata": {"year": {"gte": 1850}}}}},
})]


def _check(probe: Callable[[], None]) -> Check:
    started = time.perf_counter()
    try:
        probe()
    except DependencyUnavailableError as exc:
        return Check(status="unavailable", error=str(exc))
    except Exception as exc:  # health must report, not crash; the type is enough to act on
        return Check(status="error", error=type(exc).__name__)
    return Check(status="ok", latency_ms=round((time.perf_counter() - started) * 1000, 1))


@public_router.get(
    "/",
    response_model=Health,
    responses={503: {"model": Health, "description": "a dependency is down"}},
    summary="Health, with a check of each dependency",
)
async def health(container: ContainerDep) -> JSONResponse:
    checks = {"valkey": _check(container.job_store.ping), "queue": _check(container.queue.ping)}
    healthy = all(c.status == "ok" for c in checks.values())
    body = Health(status="ok" if healthy else "degraded", checks=checks)
    return JSONResponse(body.model_dump(), status_code=200 if healthy else 503)


def base_path(request: Request) -> str:
    """The prefix API Gateway put before our routes: the stage (``/v1``) on an execute-api
    URL, a base path on a custom domain, nothing locally. Links must carry it to work."""
    event = request.scope.get("aws.event") or {}
    full, routed = (event.get("requestContext") or {}).get("path", ""), event.get("path", "")
    return full[: -len(routed)] if routed and full.endswith(routed) else ""


async def require_json(request: Request) -> None:
    content_type = request.headers.get("content-type", "")
    if content_type.split(";")[0].strip().lower() != "application/json":
        raise HTTPException(415, "send the body as JSON with Content-Type: application/json")


@router.post(
    "/chat",
    status_code=202,
    response_model=Accepted,
    responses=responses(*KEYED, *JSON_BODY, 404, 409,
                        s404="`conversation_id` names no conversation of the caller's (`conversation_not_found`)",
                        s409="the conversation holds its most turns (`conversation_full`); start a new one"),
    dependencies=[Depends(require_json)],
    summary="Queue a question; poll the returned links for the answer",
)
async def chat(body: ChatBody, request: Request, container: ContainerDep, key: Caller) -> Accepted:
    job = submit_chat(
        in_scope(body, key), container.job_store, container.conversations, container.queue,
        container.settings.job_deadline_for(JobKind.CHAT), owner_of(key),
    )
    return Accepted.of(job, base_path(request))


def settled_job(container: Container, job_id: str, key: ApiKey | None) -> Job:
    """The caller's job, settled first if it is overdue (``settle_overdue`` says why a read
    may fail a job). Every route on one job starts here (``event_routes`` too)."""
    job = current_job(container.job_store, job_id, owner_of(key))
    return settle_overdue(job, container.job_store, container.document_store)


@router.get("/job-status/{job_id}", response_model=JobStatusView, responses=responses(*_JOB_ERRORS))
async def job_status(job_id: JobId, container: ContainerDep, key: Caller) -> JobStatusView:
    job = settled_job(container, job_id, key)
    return JobStatusView.of(job, webhooks_of([job], container.webhook_store).get(job_id))


@router.post(
    "/jobs/{job_id}/cancel",
    response_model=JobStatusView,
    responses={
        202: {"model": JobStatusView, "description": "started: it stops at its next step"},
        **responses(*_JOB_ERRORS, 409, s409="the job is finished or failed already, or is a document job"),
    },
    summary="Stop a chat job: at once if queued, at the next step if started",
)
async def cancel(job_id: JobId, container: ContainerDep, key: Caller) -> JSONResponse:
    try:
        job = cancel_job(container.job_store, settled_job(container, job_id, key))
    except JobNotCancellableError as exc:
        return error_response(409, "job_not_stoppable", str(exc), job_id=job_id)
    view = JobStatusView.of(job, webhooks_of([job], container.webhook_store).get(job_id))
    return JSONResponse(view.model_dump(), status_code=200 if job.status is JobStatus.STOPPED else 202)


@router.get(
    "/result/{job_id}",
    response_model=JobResult,
    responses={
        202: {"model": NotReady, "description": "queued or started: poll again",
              "headers": {name: {**spec, "required": True} for name, spec in RETRY_AFTER_HEADER.items()}},
        **responses(*_JOB_ERRORS, 409, s409="the job failed (`job_failed`) or was stopped (`job_stopped`); "
                                            "`message` says why"),
    },
    summary="The answer of a chat job, or what an ingest or delete job did",
)
async def result(job_id: JobId, request: Request, container: ContainerDep, key: Caller) -> JSONResponse:
    job = settled_job(container, job_id, key)
    if not job.status.is_terminal:
        body = NotReady.of(job, links_for(job_id, base_path(request)),
                           webhooks_of([job], container.webhook_store).get(job_id))
        return JSONResponse(body.model_dump(), status_code=202, headers={"Retry-After": POLL_AFTER_SECONDS})
    outcome = container.job_store.get_result(job_id) if job.status is JobStatus.FINISHED else None
    status, document = final_document(job, outcome)
    return JSONResponse(document, status_code=status)

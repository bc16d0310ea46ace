"""Many questions, or many statuses, in one request: ``POST /chat/batch`` and ``GET /jobs``.

A batch is judged question by question, never all or nothing by surprise: each valid
question becomes a job exactly as ``POST /chat`` makes one, each other one gets the error
``POST /chat`` would have answered it with, in place. The answer is a 202 when at least one
question was queued; when none was, the request's status says why: 422 if none could be
queued for a reason of its own and one is invalid, else the status ``POST /chat`` gives the
first (404 for an unknown conversation, 409 for a full one), ``details`` naming each; 503 if
Valkey or SQS is down (nothing was made, so sending the whole batch again is
safe).

Each question counts against the key's limits: ``RequireKey`` took one request's token, the
first question's; the rest are taken in one atomic step (``services.auth.admit_questions``).
A key that cannot afford them all gets the questions it can afford queued (in order) and the
rest refused with ``rate_limited`` (or ``quota_exceeded``) and ``retry_after``: a key's burst
(20 by default) is smaller than a full batch, so refusing the whole batch until the bucket
held 100 tokens would refuse it for ever.
"""

from __future__ import annotations

import json
import math
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError, WithJsonSchema

from ragcore.api_schema import (
    MAX_BATCH,
    BatchAccepted,
    BatchQueued,
    BatchRefused,
    ErrorDetail,
    ErrorInfo,
    JobStatuses,
    JobStatusView,
    links_for,
)
from ragcore.domain.errors import DependencyUnavailableError, RagError, RateLimitedError
from ragcore.domain.job_kinds import JobKind
from ragcore.domain.jobs import JOB_ID_PATTERN, Job
from ragcore.domain.messages import ChatRequest
from ragcore.services.auth import admit_questions
from ragcore.services.jobs import current_jobs, settle_overdue
from ragcore.services.submit import submit_chats
from ragcore.services.webhooks import webhooks_of

from .auth import Caller, in_scope, owner_of
from .errors import JSON_BODY, KEYED, core_error_response, error_response, responses, validation_details
from .routes import ContainerDep, base_path, require_json

router = APIRouter()  # app.py puts the API-key check in front of it


class ChatBatch(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"questions": [
        {"query": "When was Skerry Point Lighthouse first lit?"},
        {"query": "How far away can its light be seen?", "top_k": 3},
    ]}]})

    # Each item is read as a ``ChatRequest`` on its own (``_judge``), so one bad question
    # refuses only itself; the schema still says what an item is.
    questions: list[Annotated[Any, WithJsonSchema({"$ref": "#/components/schemas/ChatRequest"})]] = Field(
        min_length=1, max_length=MAX_BATCH, description=f"1 to {MAX_BATCH} questions, each as POST /chat takes it",
    )


@router.post(
    "/chat/batch",
    status_code=202,
    response_model=BatchAccepted,
    responses=responses(*KEYED, *JSON_BODY, 404, 409, s422=f"more than {MAX_BATCH} questions (or none), or none could be "
                                                 "queued for a reason of its own (invalid, an unknown or full "
                                                 "conversation): `details` names each (`questions.<index>...`)",
                        s404="no question could be queued, the first for an unknown conversation; "
                             "`details` names each",
                        s409="no question could be queued, the first for a full conversation; `details` "
                             "names each",
                        s503="none of the questions could be queued (Valkey or SQS down); none made a job"),
    dependencies=[Depends(require_json)],
    summary=f"Queue up to {MAX_BATCH} questions: a job each, or an error each",
)
async def chat_batch(body: ChatBatch, request: Request, container: ContainerDep, key: Caller) -> JSONResponse:
    judged = [_judge(question) for question in body.questions]
    valid = [i for i, item in enumerate(judged) if isinstance(item, ChatRequest)]
    affordable, refusal = admit_questions(key, container.key_store, len(valid))
    chosen = valid[:affordable]
    outcomes = submit_chats(
        [in_scope(judged[i], key) for i in chosen],  # type: ignore[type-var]
        container.job_store, container.conversations, container.queue,
        container.settings.job_deadline_for(JobKind.CHAT), owner_of(key),
    )
    done: dict[int, Job | RagError | None] = {i: refusal for i in valid} | dict(zip(chosen, outcomes))
    items = [_item(i, done.get(i) or judged[i], base_path(request)) for i in range(len(judged))]  # type: ignore[arg-type]
    queued = sum(isinstance(item, BatchQueued) for item in items)
    if not queued:
        return _none_queued([item for item in items if isinstance(item, BatchRefused)])
    answer = BatchAccepted(queued=queued, refused=len(items) - queued, items=items)
    headers = {"Retry-After": str(math.ceil(refusal.retry_after))} if refusal else {}
    return JSONResponse(answer.model_dump(mode="json"), status_code=202, headers=headers)


def _none_queued(refused: list[BatchRefused]) -> JSONResponse:
    """The request's own error when it made no job: a 503 if a message could not be queued (so
    the whole batch may be sent again); else a 422 if a question is invalid, or the status
    ``POST /chat`` would give the first question (an unknown conversation's 404, say), with
    ``details`` naming each question's problem."""
    if any(item.status == 503 for item in refused):
        raise DependencyUnavailableError("queue")
    first = next((item for item in refused if item.status == 422), refused[0])
    details = [detail for item in refused for detail in item.error.details or [
        ErrorDetail(field=f"questions.{item.index}", problem=item.error.message)]]
    return error_response(first.status, first.error.code, "no question in the batch could be queued",
                          details=[d.model_dump() for d in details])


def _judge(question: Any) -> ChatRequest | ValidationError:
    try:
        return ChatRequest.model_validate(question)
    except ValidationError as exc:
        return exc


def _details(index: int, invalid: ValidationError) -> list[dict[str, str]]:
    return validation_details(invalid.errors(), within=f"questions.{index}")


def _item(index: int, outcome: Job | RagError | ValidationError, base: str) -> BatchQueued | BatchRefused:
    if isinstance(outcome, Job):
        return BatchQueued(index=index, job_id=outcome.job_id, conversation_id=outcome.request["conversation_id"],
                           status=outcome.status, links=links_for(outcome.job_id, base))
    if isinstance(outcome, ValidationError):
        return BatchRefused(index=index, status=422, error=ErrorInfo(
            code="invalid_request", message="the question is not valid", details=_details(index, outcome)))
    answer = core_error_response(outcome)
    return BatchRefused(index=index, status=answer.status_code, error=_as_error(outcome, answer.body))


def _as_error(exc: RagError, body: bytes) -> ErrorInfo:
    """The error of ``POST /chat``'s answer ``body`` to ``exc``, and for a rate limit, its
    ``Retry-After`` as ``retry_after``."""
    error = json.loads(body)["error"]
    if isinstance(exc, RateLimitedError):
        error["retry_after"] = math.ceil(exc.retry_after)
    return ErrorInfo(**error)


# What ``job_statuses`` accepts, said in the OpenAPI document; checked there id by id, so
# that the 422 names each bad one.
_IDS_PATTERN = rf"^{JOB_ID_PATTERN.pattern[1:-1]}(,{JOB_ID_PATTERN.pattern[1:-1]}){{0,{MAX_BATCH - 1}}}$"


@router.get(
    "/jobs",
    response_model=JobStatuses,
    responses=responses(*KEYED, 422, s422=f"an id that is not a job id, or more than {MAX_BATCH} (or none)"),
    summary=f"The statuses of up to {MAX_BATCH} jobs in one call",
)
async def job_statuses(
    container: ContainerDep, key: Caller,
    ids: Annotated[str, Query(description=f"job ids, comma-separated: 1 to {MAX_BATCH}",
                              json_schema_extra={"pattern": _IDS_PATTERN})],
) -> JSONResponse:
    wanted = list(dict.fromkeys(ids.split(",")))
    bad = [{"field": "query.ids", "problem": f"{part!r} is not a job id (32 lower-case hex characters)"}
           for part in wanted if not JOB_ID_PATTERN.match(part)]
    if len(wanted) > MAX_BATCH:
        bad.insert(0, {"field": "query.ids", "problem": f"at most {MAX_BATCH} ids, not {len(wanted)}"})
    if bad:
        return error_response(422, "invalid_request", "the request is not valid", details=bad)
    found = current_jobs(container.job_store, wanted, owner_of(key))
    # Settled as GET /job-status settles one (``settle_overdue``): only an overdue job costs a write.
    settled = {job_id: settle_overdue(job, container.job_store, container.document_store)
               for job_id, job in found.items()}
    webhooks = webhooks_of(settled.values(), container.webhook_store)
    answer = JobStatuses(jobs=[JobStatusView.of(settled[i], webhooks.get(i)) for i in wanted if i in settled],
                         not_found=[i for i in wanted if i not in settled])
    return JSONResponse(answer.model_dump(mode="json"))

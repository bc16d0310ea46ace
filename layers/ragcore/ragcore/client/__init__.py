"""A Python client for the ragcore HTTP API: ``Client`` (synchronous) and ``AsyncClient``.

    from ragcore.client import Client

    with Client() as api:  # RAGCORE_API_URL, RAGCORE_API_KEY
        answer = api.ask("When was Skerry Point Lighthouse first lit?", top_k=3)
        print(answer.answer, [s.title for s in answer.sources])

Responses are the API's own models (``ragcore.api_schema``); errors are the exceptions of
``ragcore.client.errors``. The answer as it is written: ``ask(..., on_text=print)``, or a job's
events one by one (``ragcore.client.events``):

    for event in api.events(job_id):  # StatusEvent, DeltaEvent, ..., then ResultEvent or ErrorEvent
        ...
"""

from ragcore.api_schema import (
    MAX_BATCH,
    Accepted,
    BatchAccepted,
    BatchQueued,
    BatchRefused,
    ConversationView,
    DocumentAccepted,
    DocumentResultView,
    JobResult,
    JobStatuses,
    JobStatusView,
    NotReady,
    ResultView,
)
from ragcore.client.async_client import AsyncClient
from ragcore.client.errors import (
    ApiError,
    ApiUnreachable,
    BadRequest,
    Conflict,
    Forbidden,
    JobFailed,
    JobStopped,
    NotFound,
    RagcoreError,
    RateLimited,
    ServerError,
    Unauthorized,
    Unavailable,
    UnexpectedResponse,
    WaitTimeout,
)
from ragcore.client.events import AnswerText, DeltaEvent, ErrorEvent, Event, ResultEvent, StatusEvent
from ragcore.client.sync_client import Client

__all__ = [
    "MAX_BATCH", "Accepted", "AnswerText", "ApiError", "ApiUnreachable", "AsyncClient", "BadRequest",
    "BatchAccepted", "BatchQueued", "BatchRefused", "Client", "Conflict", "ConversationView", "DeltaEvent",
    "DocumentAccepted", "DocumentResultView", "ErrorEvent", "Event", "Forbidden", "JobFailed", "JobResult",
    "JobStatuses", "JobStatusView", "JobStopped", "NotFound", "NotReady", "RagcoreError", "RateLimited",
    "ResultEvent", "ResultView", "ServerError", "StatusEvent", "Unauthorized", "Unavailable",
    "UnexpectedResponse", "WaitTimeout",
]

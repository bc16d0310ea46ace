"""The Lambda entry point: ``rag_api.app.handler``."""

from __future__ import annotations

import gc
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging import correlation_paths
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from mangum import Mangum

from ragcore.bootstrap import get_container
from ragcore.observability.logs import logged_request, route_core_logs
from ragcore.observability.tracing import tracer as make_tracer

from . import errors, idempotency
from .auth import KEY_SCHEMES, RequireKey
from .batch_routes import router as batch_router
from .conversation_routes import router as conversation_router
from .document_routes import router as document_router
from .event_routes import router as event_router
from .headers import SecurityHeaders
from .limits import BodyLimit
from .routes import public_router, router
from .ui_routes import router as ui_router

logger = Logger(service="ragcore-api")
tracer = make_tracer("ragcore-api")  # X-Ray in Lambda; off elsewhere
route_core_logs(logger)


def create_app() -> FastAPI:
    app = FastAPI(
        title="ragcore",
        summary="Asynchronous RAG: queue a question, poll for a grounded answer with citations.",
        version="0.1.0",
        docs_url=None,  # ui_routes serves /docs from local files
        redoc_url=None,
    )
    # Each route declares the error statuses it can give (``errors.responses``).
    app.include_router(public_router)
    app.include_router(ui_router)  # /ui and /docs: pages, no key; what they call needs one
    app.include_router(router, dependencies=KEY_SCHEMES)
    app.include_router(batch_router, dependencies=KEY_SCHEMES)
    app.include_router(document_router, dependencies=KEY_SCHEMES)
    app.include_router(conversation_router, dependencies=KEY_SCHEMES)
    app.include_router(event_router, dependencies=KEY_SCHEMES)  # StreamFunction's, in AWS
    # Innermost first: the key is checked before the body is read or capped, and an
    # Idempotency-Key is looked up with the caller's tenant and the capped body.
    idempotency.install(app)
    app.add_middleware(BodyLimit)
    openapi = [r for r in app.routes if getattr(r, "path", None) == app.openapi_url]
    app.add_middleware(RequireKey, public_routes=[*public_router.routes, *ui_router.routes, *openapi])
    origins = get_container().settings.cors_origins
    if origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=origins,
            allow_credentials=False,  # keys are sent as headers, never as cookies
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Authorization", "X-Api-Key", "Content-Type", idempotency.HEADER],
            expose_headers=["Retry-After", idempotency.REPLAYED],
            max_age=600,
        )
    app.add_middleware(SecurityHeaders)  # outermost: every answer, errors included
    errors.install(app)
    return app


app = create_app()
_mangum = Mangum(app, lifespan="off")
# What is imported by now lives as long as the process: out of the collector's reach, or
# every full collection walks it (13 ms here, a latency spike; docs/PERFORMANCE.md).
gc.freeze()


# The API Gateway request id is the correlation id of every log line of the request.
@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)  # responses hold answers: not in traces
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return logged_request(logger, event, lambda: _mangum(event, context))

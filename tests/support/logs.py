"""The API's and the worker's Powertools log lines, captured at INFO as Lambda would print
them (tests otherwise run at POWERTOOLS_LOG_LEVEL=WARNING)."""

from __future__ import annotations

import io
import json
import logging
from contextlib import contextmanager
from typing import Any, Iterator


@contextmanager
def captured_json_logs() -> Iterator[io.StringIO]:
    from rag_api.app import logger as api_logger
    from rag_api.event_routes import logger as events_logger  # a child of the API's: its handler
    from rag_worker.handler import logger as worker_logger

    sink = io.StringIO()
    saved = []
    for logger in (api_logger, worker_logger):
        handler: Any = logger.registered_handler
        saved.append((logger, handler, handler.stream, logger.log_level))
        handler.stream = sink  # not setStream: it would flush the old one, maybe a closed capture
        logger.setLevel(logging.INFO)
    events_level = events_logger.log_level
    events_logger.setLevel(logging.INFO)
    try:
        yield sink
    finally:
        for logger, handler, stream, level in saved:
            handler.stream = stream
            logger.setLevel(level)
        events_logger.setLevel(events_level)


def log_lines(sink: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in sink.getvalue().splitlines() if line.strip()]

"""Loads a function's handler the way the Lambda runtime does: its CodeUri on the path, then
``module.attribute`` from the template's ``Handler``."""

from __future__ import annotations

import asyncio
import importlib
import sys
from typing import Any, Callable

from ragcore.local.lambda_context import LocalLambdaContext
from ragcore.local.template import FunctionSpec

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


def load_handler(spec: FunctionSpec) -> Handler:
    code_dir = str(spec.code_uri)
    if code_dir not in sys.path:
        sys.path.insert(0, code_dir)
    module_name, _, attribute = spec.handler.rpartition(".")
    return getattr(importlib.import_module(module_name), attribute)


def invoke(spec: FunctionSpec, handler: Handler, event: dict[str, Any]) -> dict[str, Any]:
    """Lambda calls a handler on a thread that has an event loop (Mangum relies on it); the
    runner calls from worker threads, so each call gets a loop of its own if it lacks one."""
    loop = None
    try:
        asyncio.get_event_loop()
    except RuntimeError:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
    try:
        context = LocalLambdaContext(function_name=spec.logical_id, timeout_seconds=spec.timeout)
        return handler(event, context)
    finally:
        if loop is not None:
            asyncio.set_event_loop(None)
            loop.close()

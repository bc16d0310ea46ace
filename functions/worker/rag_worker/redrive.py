"""The Lambda entry point ``rag_worker.redrive.handler``: sends dead-lettered jobs back to work.

Invoked by hand once the cause of the failures is fixed (it has no trigger):
``aws lambda invoke --function-name <RedriveFunction> --cli-binary-format raw-in-base64-out
--payload '{"queues": ["jobs"]}' out.json`` (AWS CLI v2; omit ``--queues`` for both).
It runs in AWS because the job records live in Valkey inside the VPC; offline,
``ragcore dlq redrive`` calls the same use-case.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from aws_lambda_powertools import Logger

from ragcore.bootstrap import get_container
from ragcore.services.redrive import redrive

logger = Logger(service="ragcore-redrive")


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    container = get_container()
    queues = container.dead_letter_queues()
    wanted = event.get("queues") or list(queues)
    unknown = sorted(set(wanted) - set(queues))
    if unknown:
        return {"error": f"unknown queue(s) {unknown}; choose from {sorted(queues)}"}
    reports = {
        name: redrive(queues[name], container.job_store, container.settings.job_deadline_for)
        for name in wanted
    }
    logger.info("redrive finished", reports={name: asdict(r) for name, r in reports.items()})
    return {name: asdict(report) for name, report in reports.items()}

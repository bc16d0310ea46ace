"""ragcore's servers for the benchmarks, each in a process of its own, wired as the offline
stack wires them (``ragcore.local.stack``) but one at a time:

    python -m bench.harness.serve api PORT   # HTTP -> API Gateway event -> rag_api.app.handler
    python -m bench.harness.serve worker     # SQS batches (template's BatchSize, window) -> the worker handler

The environment comes from ``bench.harness.services.offline``; ``BENCH_CPU`` pins the process,
``BENCH_BATCH_SIZE`` overrides the template's BatchSize (to measure the alternatives).
"""

from __future__ import annotations

import functools
import os
import sys
import threading

from bench.harness import env

env.apply()
env.pin_to_cpu(os.environ.get("BENCH_CPU"))

import boto3  # noqa: E402

from bench.harness.services import READY  # noqa: E402
from ragcore.local.apigateway import Route  # noqa: E402
from ragcore.local.handlers import invoke, load_handler  # noqa: E402
from ragcore.local.http_gateway import HttpGateway  # noqa: E402
from ragcore.local.sqs_poller import SqsPoller  # noqa: E402
from ragcore.local.template import load_template  # noqa: E402

TEMPLATE = load_template(env.ROOT / "template.yaml")


def api(port: int) -> None:
    handler = load_handler(TEMPLATE.api)
    gateway = HttpGateway("127.0.0.1", port, [Route(m, p) for m, p in TEMPLATE.api_routes], TEMPLATE.stage,
                          lambda event: invoke(TEMPLATE.api, handler, event))
    gateway.start()


def worker() -> None:
    from ragcore.bootstrap import get_container
    from ragcore.services.ingest import index_files
    from tests.support.paths import SAMPLES

    container = get_container()
    index_files([SAMPLES], "default", container.embedder, container.vector_index,
                limits=container.parse_limits)
    trigger = TEMPLATE.trigger("WorkerFunction")
    sqs = boto3.client("sqs", region_name=os.environ["AWS_REGION"])
    url = os.environ["JOBS_QUEUE_URL"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    poller = SqsPoller(sqs, url, arn, os.environ["AWS_REGION"],
                       functools.partial(invoke, trigger.function, load_handler(trigger.function)),
                       batch_size=int(os.environ.get("BENCH_BATCH_SIZE") or trigger.batch_size),
                       batching_window_seconds=trigger.batching_window_seconds)
    poller.start()


if __name__ == "__main__":
    role = sys.argv[1]
    api(int(sys.argv[2])) if role == "api" else worker()
    print(READY, flush=True)
    threading.Event().wait()

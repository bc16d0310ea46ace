"""One worker "Lambda instance" in a process of its own, so a test can kill it mid-job.

Run as ``python -m tests.support.worker_process QUEUE_URL`` with the worker's environment;
it indexes the sample documents (idempotent), prints "ready", then polls until killed.
"""

from __future__ import annotations

import sys
import threading

from ragcore.bootstrap import aws_client, get_container
from ragcore.services.ingest import index_files
from tests.support.paths import SAMPLES
from tests.support.workers import Workers


def main(queue_url: str) -> None:
    container = get_container()
    index_files([SAMPLES], "default", container.embedder, container.vector_index,
                limits=container.parse_limits)
    sqs = aws_client(container.settings, "sqs", read_timeout=30)
    arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    with Workers(sqs, {"url": queue_url, "arn": arn}):
        print("ready", flush=True)
        threading.Event().wait()


if __name__ == "__main__":
    main(sys.argv[1])

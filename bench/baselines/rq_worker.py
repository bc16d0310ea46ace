"""The baseline worker: one RQ worker process, one job at a time, the embedder and the vector
engine loaded once. RQ's ``SimpleWorker`` runs each job in the worker process itself: the default
``Worker`` forks a work-horse per job, and the embedded Qdrant engine, opened before the fork,
hangs in the child (its Rust threads do not survive a fork); opening it in every horse instead
would charge the baseline a model load per job. So the baseline is the kinder of the two.
Indexes the sample documents into its own embedded Qdrant directory first.

    python -m bench.baselines.rq_worker      # BASELINE_REDIS_URL, QDRANT_PATH, OPENAI_BASE_URL
"""

from __future__ import annotations

import os

from bench.harness import env

env.apply()
env.pin_to_cpu(os.environ.get("BENCH_CPU"))

from redis import Redis  # noqa: E402
from rq import Queue, SimpleWorker  # noqa: E402

from bench.baselines import rq_tasks  # noqa: E402
from bench.harness.services import READY  # noqa: E402
from ragcore.bootstrap import get_container  # noqa: E402
from ragcore.services.ingest import index_files  # noqa: E402
from tests.support.paths import SAMPLES  # noqa: E402


def main() -> None:
    container = get_container()
    index_files([SAMPLES], "default", container.embedder, container.vector_index,
                limits=container.parse_limits)
    rq_tasks.warm()
    redis = Redis.from_url(os.environ["BASELINE_REDIS_URL"])
    worker = SimpleWorker([Queue("chat", connection=redis)], connection=redis)
    print(READY, flush=True)
    worker.work(logging_level=os.environ.get("BASELINE_LOG_LEVEL", "WARNING"))


if __name__ == "__main__":
    main()

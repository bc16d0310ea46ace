"""What the job path itself costs the worker: claim, two cancel checks, finish, per chat job.

    .venv/bin/python bench/job_path.py [--jobs 2000]

The worker's own code with nothing around it: ``run_job`` on the metered Valkey job store (one
cluster node owning every slot, as offline and in AWS), work that only passes its two step
boundaries, metrics to nowhere. Per job: the worker's CPU time, its wall time, and the commands
Valkey ran (``INFO stats``; a script's inner commands count too). The end-to-end figures that
contain this path are ``bench/worker_throughput.py``'s and ``bench/overhead.py``'s ("store and
rest"); this one has no LLM, queue or HTTP in it, so it is steady enough to compare two
versions of the job store, where theirs vary by more than the difference. About 10 seconds.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.harness import env  # noqa: E402

env.apply()

from bench.harness.report import Figure, Report  # noqa: E402
from ragcore.adapters.valkey_client import connect  # noqa: E402
from ragcore.adapters.valkey_jobs import ValkeyJobStore  # noqa: E402
from ragcore.domain.budget import Budget  # noqa: E402
from ragcore.domain.job_kinds import JobKind  # noqa: E402
from ragcore.domain.jobs import new_job  # noqa: E402
from ragcore.domain.messages import JobMessage  # noqa: E402
from ragcore.local.processes import ValkeyService  # noqa: E402
from ragcore.observability.metered import MeteredJobStore  # noqa: E402
from ragcore.observability.metrics import NullMetrics  # noqa: E402
from ragcore.services.job_runner import JobLimits, MessageOutcome, Run, run_job  # noqa: E402
from ragcore.services.retries import RetryPolicy  # noqa: E402
from tests.support.paths import free_port  # noqa: E402


def work(run: Run) -> dict:
    run.checkpoint()  # before retrieval
    run.checkpoint()  # before the LLM call
    return {"answer": "-", "sources": []}


def commands(client) -> int:  # type: ignore[no-untyped-def]
    return int(client.info("stats")["total_commands_processed"])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=2000)
    args = parser.parse_args()
    logging.disable(logging.CRITICAL)  # the runner's per-job lines are not what is measured

    with tempfile.TemporaryDirectory() as data:
        valkey = ValkeyService("127.0.0.1", free_port(), Path(data))
        valkey.start()
        try:
            client = connect(valkey.url, 2.0)
            store = MeteredJobStore(ValkeyJobStore(client, 3600), NullMetrics())
            jobs = [new_job(JobKind.CHAT, {"question": "q"}, 600) for _ in range(args.jobs)]
            for job in jobs:
                store.create(job)
            retry = RetryPolicy(tries=3, initial_wait=0.5, max_wait=8.0)
            before = commands(client)
            wall, cpu = time.perf_counter(), time.process_time()
            for job in jobs:
                limits = JobLimits(lease_seconds=90, max_attempts=5, retry=retry, budget=Budget.of(60))
                outcome = run_job(JobMessage(job_id=job.job_id, kind=JobKind.CHAT), store, work, limits)
                assert outcome is MessageOutcome.FINISHED, outcome
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            ran = commands(client) - before - 1  # less the INFO itself
        finally:
            valkey.stop()

    report = Report("job_path", "The job path per chat job (claim, checks, finish), metered store on Valkey",
                    f".venv/bin/python bench/job_path.py --jobs {args.jobs}")
    report.add(
        Figure("worker CPU per job", cpu / args.jobs * 1000, "ms"),
        Figure("wall time per job", wall / args.jobs * 1000, "ms"),
        Figure("Valkey commands per job", ran / args.jobs, ""),
    )
    report.finish()


if __name__ == "__main__":
    main()

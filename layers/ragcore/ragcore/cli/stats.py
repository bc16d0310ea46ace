"""``ragcore stats``: queue depths (jobs, ingest and their dead-letter queues), jobs by kind
and state, and latency percentiles (queue wait, end to end, retrieval, LLM, total), read from the job
records and the queues of a running ``ragcore dev`` stack (or, with ``--from-env``, of the
deployment the environment names)."""

from __future__ import annotations

import argparse
import json
import os


def add_parser(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    stats = commands.add_parser("stats", help="queue depths, jobs by state and latency percentiles")
    stats.add_argument("--from-env", action="store_true",
                       help="read VALKEY_URL and the queue URLs from the environment, not the running `ragcore dev`")
    stats.add_argument("--json", action="store_true", help="one JSON document instead of tables")


def run(args: argparse.Namespace) -> int:
    from ragcore.bootstrap import get_container, reset_container
    from ragcore.config import get_settings
    from ragcore.observability.stats import render, summarize

    if not args.from_env:
        from ragcore.local.attach import running_stack_env

        os.environ.update(running_stack_env(get_settings()))
        reset_container()
    container = get_container()
    stats = summarize(container.job_records().scan(), container.queue_depths())
    print(json.dumps(stats.as_dict()) if args.json else render(stats))
    return 0

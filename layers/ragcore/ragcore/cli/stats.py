"""``ragcore stats``: queue depths (jobs, ingest and their dead-letter queues), jobs by kind
and state, and latency percentiles (queue wait, end to end, retrieval, LLM, total), read from the job
records and the queues of a running ``ragcore dev`` stack (or, with ``--from-env``, of the
deployment the environment names)."""

from __future__ import annotations

import argparse
import json


def add_parser(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    stats = commands.add_parser("stats", help="queue depths, jobs by state and latency percentiles")
    stats.add_argument("--from-env", action="store_true",
                       help="read VALKEY_URL and the queue URLs from the environment, not the running `ragcore dev`")
    stats.add_argument("--json", action="store_true", help="one JSON document instead of tables")


def run(args: argparse.Namespace) -> int:
    from ragcore.bootstrap import get_container
    from ragcore.local.attach import attach
    from ragcore.observability.stats import render, summarize

    container = get_container() if args.from_env else attach()
    stats = summarize(container.job_records().scan(), container.queue_depths())
    print(json.dumps(stats.as_dict()) if args.json else render(stats))
    return 0

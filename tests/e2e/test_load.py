"""Load: a thousand chat jobs submitted concurrently to the offline stack all finish, and each
reaches the LLM exactly once. A fast fake LLM stands in for the local model, so this needs no
model and measures the pipeline itself; bench/load_test.py runs the same check on demand."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from bench.load_test import LoadReport, load_stack, run_load

JOBS = 1000
CONCURRENCY = 50


def test_every_job_finishes_and_reaches_the_llm_exactly_once(tmp_path: Path) -> None:
    with load_stack(tmp_path) as (stack, llm):
        report = run_load(stack.api_url, llm, JOBS, CONCURRENCY, timeout=240)
    print(report.table())  # pytest -s shows the numbers
    assert report.problems() == []


def test_the_check_reports_a_duplicate_a_lost_and_a_failed_job() -> None:
    done = {"status": "finished", "created_at": "2025-01-01T00:00:00+00:00",
            "finished_at": "2025-01-01T00:00:01+00:00", "attempts": 1}
    report = LoadReport(
        jobs=4, submit_seconds=1, finish_seconds=2, rejected={3: "503"},
        statuses=[done, {**done, "status": "failed"}],  # job 2 never became final
        llm_queries=Counter({0: 2, 1: 1}), llm_calls=3,
    )
    assert report.problems() == [
        "1 submissions failed, e.g. #3: 503",
        "1 accepted jobs never reached a final status",
        f"1 jobs not finished, e.g. {report.statuses[1]}",
        "1 accepted jobs never reached the LLM, e.g. #2",
        "1 duplicate LLM calls",
    ]

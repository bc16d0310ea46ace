"""Issue 19: time from a job's finish to its completion webhook arriving (docs/WEBHOOKS.md).

    .venv/bin/python bench/webhook_latency.py [--jobs 40] [--burst 20]

Through the offline stack (Valkey in cluster mode, LocalStack SQS for the jobs and the webhook
queue, the template's WebhookFunction behind its poller, a fake LLM) and a real local HTTP
receiver: each chat job carries a ``callback_url``; the figure is the receiver's arrival time
less the job's ``finished_at`` (both from this machine's clock). First jobs one at a time (the
path itself: announce, SQS, the poller, claim, sign, POST), then a burst of jobs sent at once
(deliveries queue behind each other). Target: p50 <= 200 ms. About a minute.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.harness import env  # noqa: E402

env.apply()

import httpx  # noqa: E402

from bench.harness.report import Figure, Report  # noqa: E402
from ragcore.bootstrap import get_container  # noqa: E402
from tests.support.fake_llm import FakeLLM  # noqa: E402
from tests.support.stack import fake_llm_stack  # noqa: E402
from tests.support.webhook_receiver import WebhookReceiver  # noqa: E402

QUESTION = "When was Skerry Point Lighthouse first lit?"


def _latency_ms(http: httpx.Client, receiver: WebhookReceiver, job_id: str) -> float:
    (delivery,) = receiver.wait_for(job_id, timeout=60)
    finished_at = http.get(f"/job-status/{job_id}").json()["finished_at"]
    return (delivery.received_at - datetime.fromisoformat(finished_at).timestamp()) * 1000


def _ask(http: httpx.Client, url: str) -> str:
    accepted = http.post("/chat", json={"query": QUESTION, "callback_url": url})
    assert accepted.status_code == 202, accepted.text
    return accepted.json()["job_id"]


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def measure(jobs: int, burst: int) -> Report:
    report = Report("webhook_latency", "Completion webhooks: a job's finish to its webhook at a local receiver",
                    f".venv/bin/python bench/webhook_latency.py --jobs {jobs} --burst {burst}")
    with FakeLLM() as llm, tempfile.TemporaryDirectory(prefix="ragcore-webhooks-") as tmp, WebhookReceiver() as receiver:
        with fake_llm_stack(llm, Path(tmp)) as stack, httpx.Client(base_url=stack.api_url, timeout=30) as http:
            get_container().webhook_secrets.create(None)
            url = f"{receiver.url}/webhooks"
            _latency_ms(http, receiver, _ask(http, url))  # warm: clients built, scripts loaded
            one_at_a_time = [_latency_ms(http, receiver, _ask(http, url)) for _ in range(jobs)]
            sent = [_ask(http, url) for _ in range(burst)]
            burst_ms = [_latency_ms(http, receiver, job_id) for job_id in sent]
    for name, values, target in (("one at a time", one_at_a_time, 200.0), (f"a burst of {burst}", burst_ms, None)):
        report.add(
            Figure(f"{name}: p50", statistics.median(values), "ms", ("<=", target) if target else None),
            Figure(f"{name}: p90", _quantile(values, 0.9), "ms"),
            Figure(f"{name}: max", max(values), "ms"),
        )
    report.details = {"one_at_a_time_ms": [round(v, 1) for v in one_at_a_time],
                      "burst_ms": [round(v, 1) for v in burst_ms]}
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=40)
    parser.add_argument("--burst", type=int, default=20)
    args = parser.parse_args()
    started = time.monotonic()
    report = measure(args.jobs, args.burst)
    report.details["seconds"] = round(time.monotonic() - started, 1)
    report.finish()


if __name__ == "__main__":
    main()

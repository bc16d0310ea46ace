"""Issue 18, item 3: what an Idempotency-Key costs POST /chat, and what a replay costs.

    .venv/bin/python bench/idempotency.py [--calls 300] [--max-load 1.0]

The API handler called in this process one request at a time, as a Lambda instance runs it
(as bench/api.py's "handler alone"): the local API Gateway's REST proxy event -> Mangum ->
FastAPI -> Valkey (cluster mode, one node) -> SQS on LocalStack. Three kinds of request, each
after a warm-up: no key; a new key each time (reserve, run, save: one more Valkey round trip
before the route and one after); the same key and body again (a replay: one round trip, no
job, no SQS message). Wall and CPU milliseconds per request. Writes
bench/results/idempotency.json. Under a minute.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.harness import env  # noqa: E402

env.apply()

from bench.api import _quiet_stdout  # noqa: E402
from bench.harness.report import Figure, Report  # noqa: E402
from bench.harness.services import offline, temp_dir  # noqa: E402
from ragcore.observability.stats import percentile  # noqa: E402

QUESTION = "When was Skerry Point Lighthouse first lit?"
WARM_UP = 20


def durations(calls: int) -> dict[str, dict[str, float]]:
    from ragcore.local.apigateway import Route, find_route, to_event
    from ragcore.local.handlers import invoke, load_handler
    from ragcore.local.template import load_template

    template = load_template(env.ROOT / "template.yaml")
    api = load_handler(template.api)
    routes = [Route(m, p) for m, p in template.api_routes]
    route, params = find_route(routes, "POST", "/chat")  # type: ignore[misc]

    def post(i: int, key: str | None) -> dict:
        headers = [("Content-Type", "application/json"), ("Host", "bench")]
        headers += [("Idempotency-Key", key)] if key else []
        event = to_event(method="POST", path="/chat", query="", headers=headers, route=route, path_parameters=params,
                         body=json.dumps({"query": f"{QUESTION} ({i})", "top_k": 3}).encode(),
                         stage=template.stage, source_ip="127.0.0.1")
        answer = invoke(template.api, api, event)
        assert answer["statusCode"] == 202, answer
        return answer

    saved = str(uuid.uuid4())
    kinds: dict[str, Callable[[int], object]] = {
        "no key": lambda i: post(i, None),
        "new key": lambda i: post(i, str(uuid.uuid4())),
        "replay": lambda i: post(0, saved),  # the same request each time: its first answer again
    }
    results = {}
    with _quiet_stdout():  # the handler's JSON log lines
        for name, call in kinds.items():
            wall, cpu = [], []
            for i in range(calls + WARM_UP):
                started, cpu_started = time.perf_counter(), time.process_time()
                call(i)
                if i >= WARM_UP:
                    wall.append((time.perf_counter() - started) * 1000)
                    cpu.append((time.process_time() - cpu_started) * 1000)
            results[name] = {"wall_p50_ms": percentile(wall, 0.5), "wall_p95_ms": percentile(wall, 0.95),
                             "cpu_mean_ms": statistics.fmean(cpu)}
    print(f"  in-process handler durations: {results}", flush=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=300, help="in-process calls per kind of request")
    parser.add_argument("--max-load", type=float, default=1.0, help="wait for a 1-min load average below this")
    args = parser.parse_args()
    env.wait_for_quiet(args.max_load, timeout=300)
    report = Report("idempotency", "POST /chat with and without an Idempotency-Key, the handler alone",
                    "OPENBLAS_NUM_THREADS=1 .venv/bin/python bench/idempotency.py " + " ".join(sys.argv[1:]))
    with temp_dir("bench-idempotency-") as tmp, offline(Path(tmp)):
        found = durations(args.calls)
    for name, figures in found.items():
        report.add(Figure(f"{name}: p50", figures["wall_p50_ms"], "ms"),
                   Figure(f"{name}: p95", figures["wall_p95_ms"], "ms"),
                   Figure(f"{name}: CPU per request", figures["cpu_mean_ms"], "ms"))
    report.details = {"handler_durations": found}
    report.finish()


if __name__ == "__main__":
    main()

"""Issue 7, item 1 (+ item 7): the API under concurrent clients, ragcore beside the baseline.

    .venv/bin/python bench/api.py [--rate 200] [--seconds 20] [--requests 1500]

ragcore: HTTP -> the local API Gateway (a REST proxy event) -> Mangum -> FastAPI -> Valkey (job
record, Lua) -> SQS on LocalStack, exactly the handler path of `make dev`. Baseline: uvicorn ->
FastAPI -> RQ enqueue on Valkey (bench/baselines/rq_app.py). Each API runs alone in its own
process (no worker drains the queue meanwhile: the API's own cost is measured), the load
generator in this one (bench/harness/loadgen.py). Per system: a warm-up, closed loop with 1 and
16 clients (latency unloaded, most requests per second; CPU per request of each process), then
open loop at a fixed offered rate (default 200 req/s, and 100; latency from each request's
scheduled time). Also ragcore's API and authorizer handlers called in this process one request
at a time, as a Lambda instance runs them (the durations the cost model bills). Target: p99 <=
15 ms at 200 req/s. Writes bench/results/api.json. About 3 minutes.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Iterator

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.harness import env  # noqa: E402

env.apply()

from bench.harness import loadgen  # noqa: E402
from bench.harness.report import Figure, Report  # noqa: E402
from bench.harness.services import (  # noqa: E402
    Server, baseline_valkey, child_pid, cpu_seconds, offline, servers, temp_dir,
)
from ragcore.observability.stats import percentile  # noqa: E402
from tests.support.paths import free_port  # noqa: E402

QUESTION = "When was Skerry Point Lighthouse first lit?"


def body(i: int) -> dict:
    return {"query": f"{QUESTION} (api bench {i})", "top_k": 3}


def measure(url: str, rate: float, low_rate: float, seconds: float, requests: int,
            processes: dict[str, int]) -> tuple[dict[str, loadgen.Run], dict[str, float]]:
    """The runs, and CPU milliseconds per request of each server process in the 16-client run."""
    loadgen.closed_loop(url, "/chat", body, concurrency=8, requests=300)  # warm-up: imports, connections
    runs = {"closed_c1": loadgen.closed_loop(url, "/chat", body, concurrency=1, requests=requests // 2)}
    before = {name: cpu_seconds(pid) for name, pid in processes.items()}
    runs["closed_c16"] = loadgen.closed_loop(url, "/chat", body, concurrency=16, requests=requests)
    cpu_ms = {name: (cpu_seconds(pid) - before[name]) * 1000 / max(1, runs["closed_c16"].ok)
              for name, pid in processes.items()}
    runs["open_low"] = loadgen.open_loop(url, "/chat", body, rate=low_rate, seconds=seconds / 2)
    runs["open"] = loadgen.open_loop(url, "/chat", body, rate=rate, seconds=seconds)
    for name, run in runs.items():
        print(f"  {name}: {run.summary()}", flush=True)
    print(f"  CPU ms per request (16 clients): {cpu_ms}", flush=True)
    return runs, cpu_ms


@contextlib.contextmanager
def _quiet_stdout() -> Iterator[None]:
    sys.stdout.flush()
    saved = os.dup(1)
    with open(os.devnull, "w") as devnull:
        os.dup2(devnull.fileno(), 1)
    try:
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def handler_durations(count: int) -> dict[str, dict[str, float]]:
    """The API and authorizer handlers called in this process one request at a time, as a Lambda
    instance runs them (no gateway, no HTTP): wall and CPU milliseconds per invocation, the
    basis of the billed duration in the cost model (docs/PERFORMANCE.md). The authorizer is
    given a key made for the run (its usage-plan meter a stand-in)."""
    import json

    from ragcore.local.apigateway import Route, find_route, to_event
    from ragcore.local.handlers import invoke, load_handler
    from ragcore.bootstrap import get_container
    from ragcore.domain.api_keys import GatewayKey
    from ragcore.local.template import FunctionSpec, load_template
    from ragcore.services.auth import create_key

    class _Meters:  # API Gateway's usage-plan keys, which LocalStack is not asked for here
        def issue(self, key_id: str) -> GatewayKey:
            return GatewayKey(id=f"meter-{key_id}", value=f"meter-value-{key_id}")

    template = load_template(env.ROOT / "template.yaml")
    api = load_handler(template.api)
    authorizer_spec = FunctionSpec("AuthorizerFunction", env.ROOT / "functions" / "api",
                                   "rag_api.authorizer.handler", 15)
    authorizer = load_handler(authorizer_spec)
    routes = [Route(m, p) for m, p in template.api_routes]

    def event(method: str, path: str, payload: dict | None = None, headers: tuple = ()) -> dict:
        route, params = find_route(routes, method, path)  # type: ignore[misc]
        return to_event(method=method, path=path, query="", body=json.dumps(payload).encode() if payload else b"",
                        headers=[("Content-Type", "application/json"), ("Host", "bench"), *headers],
                        route=route, path_parameters=params, stage=template.stage, source_ip="127.0.0.1")

    job_id = ""

    def submit(i: int) -> None:
        nonlocal job_id
        job_id = json.loads(invoke(template.api, api, event("POST", "/chat", body(i)))["body"])["job_id"]

    def status(i: int) -> None:
        invoke(template.api, api, event("GET", f"/job-status/{job_id}"))

    container = get_container()
    _, secret = create_key(container.key_store, container.api_key_pepper, "bench", gateway=_Meters())

    def authorize(i: int) -> None:
        request = {**event("GET", "/job-status/x", headers=(("x-api-key", secret),)),
                   "type": "REQUEST", "methodArn": "arn:aws:execute-api:us-east-1:1:api/v1/GET/job-status/x"}
        assert invoke(authorizer_spec, authorizer, request)["principalId"]

    results = {}
    with _quiet_stdout():  # the handlers' JSON log lines (written, as in Lambda, then dropped)
        for name, call in (("POST /chat", submit), ("GET /job-status", status), ("authorizer", authorize)):
            wall, cpu = [], []
            for i in range(count + 20):
                started, cpu_started = time.perf_counter(), time.process_time()
                call(i)
                if i >= 20:  # warm-up
                    wall.append((time.perf_counter() - started) * 1000)
                    cpu.append((time.process_time() - cpu_started) * 1000)
            results[name] = {"wall_p50_ms": percentile(wall, 0.5), "wall_p95_ms": percentile(wall, 0.95),
                             "wall_p99_ms": percentile(wall, 0.99), "cpu_mean_ms": statistics.fmean(cpu)}
    print(f"  in-process handler durations: {results}", flush=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=float, default=200, help="offered rate of the open-loop run, req/s")
    parser.add_argument("--seconds", type=float, default=20, help="length of the open-loop run")
    parser.add_argument("--low-rate", type=float, default=100, help="a second, lower offered rate, req/s")
    parser.add_argument("--requests", type=int, default=1500, help="requests of the 16-client closed loop")
    parser.add_argument("--handler-calls", type=int, default=300, help="in-process calls per handler")
    parser.add_argument("--max-load", type=float, default=1.0, help="wait for a 1-min load average below this")
    args = parser.parse_args()
    env.wait_for_quiet(args.max_load, timeout=300)
    report = Report("api", "API: POST /chat through the real handler path, ragcore vs FastAPI+RQ baseline",
                    "OPENBLAS_NUM_THREADS=1 .venv/bin/python bench/api.py " + " ".join(sys.argv[1:]))
    results: dict[str, dict[str, loadgen.Run]] = {}
    cpu: dict[str, dict[str, float]] = {}
    with temp_dir("bench-api-") as tmp, offline(Path(tmp)) as (_stack, _llm, server_env):
        logs = Path(tmp) / "logs"
        services = {"localstack": child_pid("localstack.runtime.main"), "valkey": child_pid("valkey-server")}
        print("ragcore handlers in this process, one request at a time (as a Lambda instance)", flush=True)
        durations = handler_durations(args.handler_calls)
        port = free_port()
        print("ragcore API (local API Gateway -> Mangum -> FastAPI -> Valkey -> SQS)", flush=True)
        with servers(api := Server("ragcore-api", ["bench.harness.serve", "api", str(port)], server_env, logs)):
            results["ragcore"], cpu["ragcore"] = measure(
                f"http://127.0.0.1:{port}", args.rate, args.low_rate, args.seconds, args.requests,
                {"api": api.pid, **{k: v for k, v in services.items() if v}})
        port = free_port()
        print("baseline API (uvicorn -> FastAPI -> RQ enqueue on Valkey)", flush=True)
        with baseline_valkey(Path(tmp)) as (redis_url, redis_pid):
            baseline_env = {**server_env, "BASELINE_REDIS_URL": redis_url}
            with servers(api := Server("baseline-api", ["bench.baselines.rq_app", str(port)], baseline_env, logs)):
                results["baseline"], cpu["baseline"] = measure(
                    f"http://127.0.0.1:{port}", args.rate, args.low_rate, args.seconds, args.requests,
                    {"api": api.pid, "valkey": redis_pid})
    r, b = results["ragcore"], results["baseline"]
    rate, low = f"{args.rate:.0f} req/s offered", f"{args.low_rate:.0f} req/s offered"
    report.add(
        Figure(f"p50 at {rate}", r["open"].p(0.5), "ms", baseline=b["open"].p(0.5)),
        Figure(f"p95 at {rate}", r["open"].p(0.95), "ms", baseline=b["open"].p(0.95)),
        Figure(f"p99 at {rate}", r["open"].p(0.99), "ms", ("<=", 15.0), baseline=b["open"].p(0.99)),
        Figure(f"achieved at {rate}", r["open"].rate, "req/s", baseline=b["open"].rate),
        Figure(f"p50 at {low}", r["open_low"].p(0.5), "ms", baseline=b["open_low"].p(0.5)),
        Figure(f"p99 at {low}", r["open_low"].p(0.99), "ms", ("<=", 15.0), baseline=b["open_low"].p(0.99)),
        Figure("p50, 1 client", r["closed_c1"].p(0.5), "ms", baseline=b["closed_c1"].p(0.5)),
        Figure("p99, 1 client", r["closed_c1"].p(0.99), "ms", baseline=b["closed_c1"].p(0.99)),
        Figure("throughput, 16 clients", r["closed_c16"].rate, "req/s", baseline=b["closed_c16"].rate),
        Figure("p99, 16 clients", r["closed_c16"].p(0.99), "ms", baseline=b["closed_c16"].p(0.99)),
        Figure("API process CPU per request", cpu["ragcore"]["api"], "ms", baseline=cpu["baseline"]["api"]),
        Figure("LocalStack (SQS) CPU per request", cpu["ragcore"].get("localstack", float("nan")), "ms"),
        Figure("handler alone: POST /chat p50", durations["POST /chat"]["wall_p50_ms"], "ms"),
        Figure("handler alone: GET /job-status p50", durations["GET /job-status"]["wall_p50_ms"], "ms"),
        Figure("handler alone: authorizer p50", durations["authorizer"]["wall_p50_ms"], "ms"),
        Figure("errors (non-2xx or transport)", sum(
            run.errors + len(run.latencies_ms) - run.ok for run in r.values()), "", ("<=", 0),
            baseline=sum(run.errors + len(run.latencies_ms) - run.ok for run in b.values())),
    )
    report.details = {"runs": {system: {name: run.summary() for name, run in runs.items()}
                               for system, runs in results.items()},
                      "cpu_ms_per_request_16_clients": cpu, "handler_durations": durations}
    report.finish()


if __name__ == "__main__":
    main()

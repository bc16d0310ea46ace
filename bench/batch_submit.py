"""Issue 18, item 4: questions accepted per second by POST /chat/batch (100 a request) beside
one POST /chat per question.

    .venv/bin/python bench/batch_submit.py [--questions 3000] [--max-load 1.0]

Both through the same path as bench/api.py: HTTP -> the local API Gateway (a REST proxy
event) -> Mangum -> FastAPI in a process of its own -> Valkey (cluster mode, one node: the job
records, one Lua script each) -> SQS on LocalStack (one SendMessage per question, or one
SendMessageBatch per 10). No worker drains the queue meanwhile: what is measured is accepting
questions. Closed loops, each after a warm-up: 1 and 8 clients sending POST /chat, 1 and 2
clients sending batches of 100. Also the API process's and LocalStack's CPU per question.
Writes bench/results/batch_submit.json. About a minute on a quiet machine.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.harness import env  # noqa: E402

env.apply()

from bench.harness import loadgen  # noqa: E402
from bench.harness.report import Figure, Report  # noqa: E402
from bench.harness.services import Server, child_pid, cpu_seconds, offline, servers, temp_dir  # noqa: E402
from ragcore.api_schema import MAX_BATCH  # noqa: E402
from tests.support.paths import free_port  # noqa: E402

QUESTION = "When was Skerry Point Lighthouse first lit?"


def one(i: int) -> dict:
    return {"query": f"{QUESTION} (batch bench {i})", "top_k": 3}


def batch(i: int) -> dict:
    return {"questions": [one(i * MAX_BATCH + j) for j in range(MAX_BATCH)]}


def run(url: str, path: str, body: loadgen.Body, clients: int, requests: int, per_request: int,
        processes: dict[str, int]) -> dict:
    """One closed loop: questions/s accepted, request latency, CPU ms per question of each process."""
    before = {name: cpu_seconds(pid) for name, pid in processes.items()}
    result = loadgen.closed_loop(url, path, body, concurrency=clients, requests=requests)
    questions = result.ok * per_request
    cpu = {name: (cpu_seconds(pid) - before[name]) * 1000 / max(1, questions) for name, pid in processes.items()}
    figures = {"questions_per_s": result.rate * per_request, "p50_ms": result.p(0.5), "p99_ms": result.p(0.99),
               "refused": len(result.latencies_ms) - result.ok + result.errors, "cpu_ms_per_question": cpu,
               "run": result.summary()}
    print(f"  {path}, {clients} client(s): {figures['questions_per_s']:.0f} questions/s, "
          f"p50 {figures['p50_ms']:.1f} ms, CPU ms/question {cpu}", flush=True)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--questions", type=int, default=3000, help="questions sent by each loop")
    parser.add_argument("--max-load", type=float, default=1.0, help="wait for a 1-min load average below this")
    args = parser.parse_args()
    env.wait_for_quiet(args.max_load, timeout=300)
    report = Report("batch_submit", "Accepting questions: POST /chat/batch (100 a request) vs POST /chat "
                    "(baseline column: one POST /chat per question)",
                    "OPENBLAS_NUM_THREADS=1 .venv/bin/python bench/batch_submit.py " + " ".join(sys.argv[1:]))
    singles, batches = args.questions, max(1, args.questions // MAX_BATCH)
    with temp_dir("bench-batch-") as tmp, offline(Path(tmp)) as (_stack, _llm, server_env):
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        with servers(api := Server("ragcore-api", ["bench.harness.serve", "api", str(port)], server_env,
                                   Path(tmp) / "logs")):
            processes = {"api": api.pid, **{name: pid for name, pid in (
                ("localstack", child_pid("localstack.runtime.main")), ("valkey", child_pid("valkey-server"))) if pid}}
            loadgen.closed_loop(url, "/chat", one, concurrency=4, requests=300)  # warm-up
            loadgen.closed_loop(url, "/chat/batch", batch, concurrency=2, requests=6)
            results = {
                "single_c1": run(url, "/chat", one, 1, singles // 2, 1, processes),
                "single_c8": run(url, "/chat", one, 8, singles, 1, processes),
                "batch_c1": run(url, "/chat/batch", batch, 1, batches, MAX_BATCH, processes),
                "batch_c2": run(url, "/chat/batch", batch, 2, batches, MAX_BATCH, processes),
            }
    single, many = results["single_c8"], results["batch_c2"]
    report.add(
        Figure("questions/s accepted, 1 client", results["batch_c1"]["questions_per_s"], "q/s",
               baseline=results["single_c1"]["questions_per_s"]),
        Figure("questions/s accepted, most (batch: 2 clients; single: 8)", many["questions_per_s"], "q/s",
               baseline=single["questions_per_s"]),
        Figure("request p50, 1 client (100 questions vs 1)", results["batch_c1"]["p50_ms"], "ms",
               baseline=results["single_c1"]["p50_ms"]),
        Figure("request p99, 1 client", results["batch_c1"]["p99_ms"], "ms", baseline=results["single_c1"]["p99_ms"]),
        Figure("API process CPU per question", many["cpu_ms_per_question"]["api"], "ms",
               baseline=single["cpu_ms_per_question"]["api"]),
        Figure("LocalStack (SQS) CPU per question", many["cpu_ms_per_question"].get("localstack", float("nan")),
               "ms", baseline=single["cpu_ms_per_question"].get("localstack", float("nan"))),
        Figure("Valkey CPU per question", many["cpu_ms_per_question"].get("valkey", float("nan")), "ms",
               baseline=single["cpu_ms_per_question"].get("valkey", float("nan"))),
        Figure("requests refused or failed", sum(r["refused"] for r in results.values()), "", ("<=", 0)),
    )
    report.details = results
    report.finish()


if __name__ == "__main__":
    main()

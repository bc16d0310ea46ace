"""Issue 7, item 3 (+ item 7): jobs per second for ONE worker process as the LLM slows down,
ragcore beside the baseline.

    .venv/bin/python bench/worker_throughput.py [--latencies 0,0.25,1,2] [--scale 1.0]
        [--batch-size N] [--only ragcore|baseline]

For each LLM latency L, N chat jobs are queued first (as POST /chat does, without the API),
then one worker process starts and drains them: ragcore's is the worker handler fed by the
local SQS poller with the template's BatchSize and batching window (the records of a batch run
concurrently); the baseline's one RQ worker (one job at a time). Throughput = jobs finished /
(last finished - first started), from the jobs' own times. Checked on the way: every job
finished, exactly N LLM calls, no redelivery. Both workers run pinned to one CPU (a 1,769 MB
worker Lambda has one vCPU). Target: >= 8 jobs/s at L = 1 s.
Writes bench/results/worker_throughput.json. About 4 minutes.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.harness import env  # noqa: E402

env.apply()

from bench.harness.report import Figure, Report  # noqa: E402
from bench.harness.services import baseline_valkey, offline, servers, temp_dir  # noqa: E402
from bench.harness.systems import QUESTION, Baseline, Ragcore, wait_final  # noqa: E402
from tests.support.fake_llm import FakeLLM  # noqa: E402

# Jobs per run: ~10-20 s of work each (the baseline runs one job at a time).
JOBS = {"ragcore": {0.0: 300, 0.25: 200, 1.0: 100, 2.0: 60}, "baseline": {0.0: 150, 0.25: 40, 1.0: 12, 2.0: 8}}


def drain(system: Ragcore | Baseline, llm: FakeLLM, latency: float, jobs: int) -> dict:
    llm.delay = latency
    calls, llm.max_in_flight = llm.calls, 0
    job_ids = system.enqueue([f"{QUESTION} (throughput L={latency} job {i})" for i in range(jobs)])
    with servers(system.worker()):
        timelines = wait_final(system, job_ids, timeout=120 + jobs * (latency + 0.2), poll=0.1)
        settle_by = time.monotonic() + 30
        while not system.settled() and time.monotonic() < settle_by:
            time.sleep(0.1)
    done = [t for t in timelines if t is not None and t.ok]
    problems = []
    if len(done) != jobs:
        problems.append(f"{jobs - len(done)} of {jobs} jobs not finished")
    if llm.calls - calls != jobs:
        problems.append(f"{llm.calls - calls} LLM calls for {jobs} jobs")
    if any(t.attempts != 1 for t in done):
        problems.append(f"{sum(t.attempts != 1 for t in done)} jobs delivered more than once")
    span = max(t.finished for t in done) - min(t.started for t in done)  # type: ignore[type-var,operator]
    row = {"latency_s": latency, "jobs": jobs, "finished": len(done), "seconds": round(span, 3),
           "jobs_per_s": len(done) / span, "llm_calls": llm.calls - calls, "llm_max_in_flight": llm.max_in_flight,
           "problems": problems}
    print(f"{system.name} L={latency:g}s: {row}", flush=True)
    # A receive the stopped worker left waiting (a 1 s long poll) would still take the next
    # run's first message, to reappear only after the visibility timeout: let it lapse.
    time.sleep(2)
    return row


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--latencies", default="0,0.25,1,2", help="LLM latencies, seconds")
    parser.add_argument("--scale", type=float, default=1.0, help="multiplies the number of jobs per run")
    parser.add_argument("--batch-size", type=int, help="ragcore's BatchSize instead of the template's")
    parser.add_argument("--only", choices=("ragcore", "baseline"), help="run one system (no ratios)")
    parser.add_argument("--max-load", type=float, default=1.0, help="wait for a 1-min load average below this")
    args = parser.parse_args()
    latencies = [float(x) for x in args.latencies.split(",")]
    env.wait_for_quiet(args.max_load, timeout=300)
    variant = "" if not (args.batch_size or args.only) else f"_{args.only or 'both'}_batch{args.batch_size or ''}"
    report = Report(f"worker_throughput{variant}", "Worker throughput: one worker process, jobs/s as the LLM slows",
                    "OPENBLAS_NUM_THREADS=1 .venv/bin/python bench/worker_throughput.py " + " ".join(sys.argv[1:]))
    rows: dict[str, dict[float, dict]] = {}
    with temp_dir("bench-throughput-") as tmp, offline(Path(tmp)) as (_stack, llm, server_env), \
            baseline_valkey(Path(tmp)) as (redis_url, _):
        if args.batch_size:
            server_env["BENCH_BATCH_SIZE"] = str(args.batch_size)
        systems = [Ragcore(server_env, Path(tmp))] if args.only != "baseline" else []
        systems += [Baseline(server_env, Path(tmp), redis_url)] if args.only != "ragcore" else []
        for system in systems:
            for latency in latencies:
                jobs = max(4, round(JOBS[system.name].get(latency, 50) * args.scale))
                rows.setdefault(system.name, {})[latency] = drain(system, llm, latency, jobs)
    for latency in latencies:
        r, b = (rows.get(name, {}).get(latency) for name in ("ragcore", "baseline"))
        target = (">=", 8.0) if latency == 1.0 else None
        if r is None:  # --only baseline
            report.add(Figure(f"baseline jobs/s at L = {latency:g} s", b["jobs_per_s"], "jobs/s"))  # type: ignore[index]
            continue
        report.add(Figure(f"jobs/s at L = {latency:g} s", r["jobs_per_s"], "jobs/s", target,
                          baseline=b["jobs_per_s"] if b else None))
    problems = [p for system in rows.values() for row in system.values() for p in row["problems"]]
    report.add(Figure("problems (lost, duplicate or redelivered jobs)", len(problems), "", ("<=", 0)))
    report.details = {"runs": {name: list(by_latency.values()) for name, by_latency in rows.items()},
                      "problems": problems}
    report.finish()


if __name__ == "__main__":
    main()

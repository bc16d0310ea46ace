"""Issue 7, item 2 (+ item 7): what a job costs besides the LLM, ragcore beside the baseline.

    .venv/bin/python bench/overhead.py [--jobs 40] [--slow-jobs 12]

With the fake LLM (OpenAI-compatible, over HTTP) answering after a fixed latency L (0 and 1 s),
one client asks one question at a time through each system's API and follows the job to the
end. For each job: submit (the POST's own latency), queue wait (created -> started), embedding,
retrieval, LLM (the result's timings), store and the rest (started -> finished less those
three: claim, prompt, recording the answer) and in all submit -> finished (from the client's
send to the system's finished time; same machine, same clock). Overhead = submit -> finished
less the LLM's time. Target: overhead p50 <= 50 ms at L = 0. The workers run pinned to one
CPU (a 1,769 MB worker Lambda has one vCPU), the APIs and services on the rest.
Writes bench/results/overhead.json. About 3 minutes.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.harness import env  # noqa: E402

env.apply()

import httpx  # noqa: E402

from bench.harness.report import Figure, Report  # noqa: E402
from bench.harness.services import baseline_valkey, offline, servers, temp_dir  # noqa: E402
from bench.harness.systems import QUESTION, Baseline, Ragcore, Timeline, wait_final  # noqa: E402
from ragcore.observability.stats import percentile  # noqa: E402
from tests.support.paths import free_port  # noqa: E402

STAGES = ("submit", "queue wait", "embed", "retrieval", "llm", "store and rest", "submit to finished", "overhead")


def breakdown(sent: float, submit_ms: float, t: Timeline) -> dict[str, float]:
    embed, retrieval, llm = (t.timings_ms.get(k, 0.0) for k in ("embed_ms", "retrieval_ms", "llm_ms"))
    assert t.started is not None and t.finished is not None
    total = (t.finished - sent) * 1000
    return {
        "submit": submit_ms,
        "queue wait": (t.started - t.created) * 1000,
        "embed": embed,
        "retrieval": retrieval,
        "llm": llm,
        "store and rest": (t.finished - t.started) * 1000 - embed - retrieval - llm,
        "submit to finished": total,
        "overhead": total - llm,
    }


def one_at_a_time(system: Ragcore | Baseline, api_url: str, jobs: int, tag: str) -> list[dict[str, float]]:
    rows = []
    with httpx.Client(base_url=api_url, timeout=30) as http:
        for i in range(jobs + 2):  # the first two warm the worker up and are dropped
            sent = time.time()
            response = http.post("/chat", json={"query": f"{QUESTION} ({tag} {i})", "top_k": 3})
            submit_ms = (time.time() - sent) * 1000
            response.raise_for_status()
            (timeline,) = wait_final(system, [response.json()["job_id"]], timeout=60)
            if timeline is None or not timeline.ok:
                raise RuntimeError(f"{system.name} job {i} did not finish: {timeline}")
            if i >= 2:
                rows.append(breakdown(sent, submit_ms, timeline))
            time.sleep(0.05)  # let the worker go idle again: each job meets an empty queue
    return rows


def summarize(rows: list[dict[str, float]]) -> dict[str, dict[str, float]]:
    return {stage: {"p50": percentile([r[stage] for r in rows], 0.5), "p95": percentile([r[stage] for r in rows], 0.95),
                    "mean": statistics.fmean(r[stage] for r in rows)} for stage in STAGES}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=40, help="questions at L = 0")
    parser.add_argument("--slow-jobs", type=int, default=12, help="questions at L = 1 s")
    parser.add_argument("--max-load", type=float, default=1.0, help="wait for a 1-min load average below this")
    args = parser.parse_args()
    env.wait_for_quiet(args.max_load, timeout=300)
    report = Report("overhead", "Overhead: submit -> finished less the LLM, one question at a time",
                    "OPENBLAS_NUM_THREADS=1 .venv/bin/python bench/overhead.py " + " ".join(sys.argv[1:]))
    latencies = {0.0: args.jobs, 1.0: args.slow_jobs}
    summaries: dict[str, dict[str, dict]] = {}
    with temp_dir("bench-overhead-") as tmp, offline(Path(tmp)) as (_stack, llm, server_env), \
            baseline_valkey(Path(tmp)) as (redis_url, _):
        for system in (Ragcore(server_env, Path(tmp)), Baseline(server_env, Path(tmp), redis_url)):
            port = free_port()
            with servers(system.api(port), system.worker()):
                for latency, jobs in latencies.items():
                    llm.delay = latency
                    rows = one_at_a_time(system, f"http://127.0.0.1:{port}", jobs, f"{system.name} L={latency}")
                    summaries.setdefault(system.name, {})[f"L={latency:g}s"] = summarize(rows)
                    print(f"{system.name} L={latency:g}s: " + ", ".join(
                        f"{s} {summarize(rows)[s]['p50']:.1f}" for s in STAGES) + " (p50 ms)", flush=True)
    r, b = summaries["ragcore"], summaries["baseline"]
    for key in r:
        for stage in STAGES:
            target = ("<=", 50.0) if (key == "L=0s" and stage == "overhead") else None
            report.add(Figure(f"{key} {stage} p50", r[key][stage]["p50"], "ms", target, baseline=b[key][stage]["p50"]))
        report.add(Figure(f"{key} overhead p95", r[key]["overhead"]["p95"], "ms", baseline=b[key]["overhead"]["p95"]))
    report.details = {"latencies_s": list(latencies), "jobs": latencies, "summaries": summaries}
    report.finish()


if __name__ == "__main__":
    main()

"""End-to-end latency of the offline stack: submit questions over HTTP, wait for each answer,
print a table of p50/p95 per stage (from the result's timings) and of the whole round trip.

    .venv/bin/python bench/pipeline_latency.py [--rounds 3]

Runs on its own free ports and data directory; the LLM is the local SmolLM2-135M.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ragcore.bootstrap import get_container  # noqa: E402
from ragcore.observability.stats import percentile  # noqa: E402
from ragcore.local.stack import DevStack  # noqa: E402
from ragcore.services.ingest import index_files  # noqa: E402
from tests.support.paths import SAMPLES  # noqa: E402
from tests.support.stack import free_stack_options  # noqa: E402

QUESTIONS = [
    "When was Skerry Point Lighthouse first lit?",
    "How far away can the Skerry Point light be seen?",
    "How much flour do I add when feeding a sourdough starter?",
    "How far is the food when a honeybee waggles for one second?",
    "What does the ochre sea star eat?",
]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    options = free_stack_options(Path(tempfile.mkdtemp(prefix="bench-")), llm_threads=2)
    rows: dict[str, list[float]] = {k: [] for k in ("submit", "embed", "retrieval", "llm", "worker total", "round trip")}
    with DevStack(options) as stack, httpx.Client(base_url=stack.api_url, timeout=60) as http:
        container = get_container()
        index_files([SAMPLES], "default", container.embedder, container.vector_index,
                    limits=container.parse_limits)
        for _ in range(args.rounds):
            for question in QUESTIONS:  # one at a time: latency, not throughput
                started = time.perf_counter()
                job_id = http.post("/chat", json={"query": question, "top_k": 3}).json()["job_id"]
                rows["submit"].append((time.perf_counter() - started) * 1000)
                while http.get(f"/job-status/{job_id}").json()["status"] in ("queued", "started"):
                    time.sleep(0.05)
                rows["round trip"].append((time.perf_counter() - started) * 1000)
                timings = http.get(f"/result/{job_id}").json()["timings_ms"]
                for key, name in (("embed_ms", "embed"), ("retrieval_ms", "retrieval"),
                                  ("llm_ms", "llm"), ("total_ms", "worker total")):
                    rows[name].append(timings[key])
    print(f"{len(rows['submit'])} questions, one at a time, offline stack, SmolLM2-135M on 2 threads\n")
    print(f"{'stage':<14}{'p50 ms':>10}{'p95 ms':>10}{'mean ms':>10}")
    for name, values in rows.items():
        print(f"{name:<14}{percentile(values, 0.5):>10.1f}{percentile(values, 0.95):>10.1f}"
              f"{statistics.fmean(values):>10.1f}")


if __name__ == "__main__":
    main()

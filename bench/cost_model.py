"""Dollars per 1,000 questions on AWS, from the benchmarks' measured durations and the
template's configured memory (docs/PERFORMANCE.md, "Cost model"). Reads bench/results/api.json,
overhead.json and worker_throughput.json (run those first); no services needed.

    .venv/bin/python bench/cost_model.py [--polls 3] [--latencies 1,5]

PRICES are us-east-1 list prices as assumed on the date below (not fetched: check the pricing
pages before relying on them). The LLM's own price is shown apart from the infrastructure.

Model, per question: one POST /chat and ``--polls`` GET /job-status (each an API Gateway REST
request, an authorizer invocation (no cache: ``ReauthorizeEvery: 0``) and an API invocation); one
SQS SendMessage; the worker's share of an invocation. A Lambda's duration = its CPU time scaled
by the vCPU share its memory buys (1,769 MB = 1 vCPU) + the time it waits on Valkey, SQS and the
LLM (taken from the local run: wall - CPU). Worker, busy: instances drain full batches of 10, the
invocation's seconds shared by its 10 jobs (one worker process pinned to one CPU measured exactly
that: seconds per job = 1 / jobs per second). Worker, quiet: a batch of one, the invocation is
the job (the LLM's latency plus the worker's own time at L = 0).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import yaml  # noqa: E402

from bench.harness import env  # noqa: E402
from bench.harness.report import RESULTS  # noqa: E402
from ragcore.local.template import _CfnLoader  # noqa: E402

PRICES_DATE = "2025 list prices, as assumed on 2026-11-24 (not fetched)"
PRICES = {
    "lambda_gb_second": 0.0000166667,  # x86, first 6 billion GB-s a month
    "lambda_request": 0.20 / 1e6,
    "apigw_rest_request": 3.50 / 1e6,  # REST API, first 333 million a month
    "sqs_request": 0.40 / 1e6,  # standard queue, after the first million a month
    "valkey_gb_hour": 0.0837,  # ElastiCache Serverless for Valkey, data stored (minimum 100 MB)
    "valkey_ecpu": 0.0023 / 1e6,
    "llm_input_token": 0.40 / 1e6,  # gpt-4.1-mini (the template's default LLM_MODEL)
    "llm_output_token": 1.60 / 1e6,
}
ONE_VCPU_MB = 1769
# Per question. Assumed: Valkey ECPUs (about 1 per command of <= 1 KB: job write, rate-limit
# check, key lookups, claim, cancel checks, result, status reads) and the LLM's tokens (5
# passages of about 100 words in the prompt; answers are capped at LLM_MAX_TOKENS = 400).
# Measured: the bytes a finished chat job keeps for JOB_TTL_SECONDS (7 days): MEMORY USAGE of
# its key after a top_k 3 answer on the samples, 4,420 bytes (20 jobs, 88,408 bytes).
VALKEY_ECPU_PER_QUESTION = 40
JOB_RECORD_BYTES = 4420
TTL_HOURS = 7 * 24
LLM_INPUT_TOKENS, LLM_OUTPUT_TOKENS = 1000, 150


def memory_mb() -> dict[str, int]:
    raw = yaml.load((env.ROOT / "template.yaml").read_text(), Loader=_CfnLoader)  # noqa: S506
    return {name: int(raw["Resources"][name]["Properties"]["MemorySize"])
            for name in ("ApiFunction", "AuthorizerFunction", "WorkerFunction")}


def aws_seconds(wall_ms: float, cpu_ms: float, memory: int) -> float:
    """Billed seconds (1 ms granularity) on a Lambda of ``memory`` MB: CPU stretched by its vCPU
    share, waits as measured."""
    share = min(1.0, memory / ONE_VCPU_MB)
    waits = max(0.0, wall_ms - cpu_ms)
    return round(cpu_ms / share + waits) / 1000


def load(name: str) -> dict:
    path = RESULTS / f"{name}.json"
    if not path.exists():
        sys.exit(f"{path} is missing: run bench/{name}.py first")
    return json.loads(path.read_text())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--polls", type=int, default=3, help="GET /job-status calls per question")
    parser.add_argument("--latencies", default="1,5", help="LLM latencies to price, seconds")
    args = parser.parse_args()
    mem = memory_mb()
    handlers = load("api")["details"]["handler_durations"]
    runs = {r["latency_s"]: r for r in load("worker_throughput")["details"]["runs"]["ragcore"]}
    quiet = load("overhead")["details"]["summaries"]["ragcore"]["L=0s"]
    worker_own_ms = sum(quiet[s]["p50"] for s in ("embed", "retrieval", "llm", "store and rest"))
    per_batch_s = 10 / runs[1.0]["jobs_per_s"] - 1.0  # a batch of 10 at L = 1 s, less the LLM
    p = PRICES
    requests = 1 + args.polls
    api_s = {"submit": aws_seconds(handlers["POST /chat"]["wall_p50_ms"], handlers["POST /chat"]["cpu_mean_ms"],
                                   mem["ApiFunction"]),
             "poll": aws_seconds(handlers["GET /job-status"]["wall_p50_ms"],
                                 handlers["GET /job-status"]["cpu_mean_ms"], mem["ApiFunction"]),
             "authorizer": aws_seconds(handlers["authorizer"]["wall_p50_ms"], handlers["authorizer"]["cpu_mean_ms"],
                                       mem["AuthorizerFunction"])}
    gb = {name: memory / 1024 for name, memory in mem.items()}
    common = {
        "API Lambda (GB-s)": (api_s["submit"] + args.polls * api_s["poll"]) * gb["ApiFunction"] * p["lambda_gb_second"],
        "API Lambda (requests)": requests * p["lambda_request"],
        "authorizer Lambda (GB-s)": requests * api_s["authorizer"] * gb["AuthorizerFunction"] * p["lambda_gb_second"],
        "authorizer Lambda (requests)": requests * p["lambda_request"],
        "API Gateway REST requests": requests * p["apigw_rest_request"],
        "ElastiCache Serverless: ECPUs": VALKEY_ECPU_PER_QUESTION * p["valkey_ecpu"],
        "ElastiCache Serverless: storage for the TTL": JOB_RECORD_BYTES / 1e9 * TTL_HOURS * p["valkey_gb_hour"],
    }
    rows: dict[str, dict[str, float]] = {}
    for latency in (float(x) for x in args.latencies.split(",")):
        for mode, batch in (("busy", 10), ("quiet", 1)):
            if mode == "busy":
                seconds = (latency + per_batch_s) / batch
            else:
                seconds = latency + worker_own_ms / 1000
            costs = dict(common)
            costs["worker Lambda (GB-s)"] = seconds * gb["WorkerFunction"] * p["lambda_gb_second"]
            costs["worker Lambda (requests)"] = p["lambda_request"] / batch
            costs["SQS (send + receive + delete)"] = (1 + 2 / batch) * p["sqs_request"]
            rows[f"L={latency:g}s {mode}"] = {k: v * 1000 for k, v in costs.items()}
    llm = (LLM_INPUT_TOKENS * p["llm_input_token"] + LLM_OUTPUT_TOKENS * p["llm_output_token"]) * 1000
    names = list(next(iter(rows.values())))
    width = max(map(len, names))
    print(f"dollars per 1,000 questions ({args.polls} polls each); prices: {PRICES_DATE}")
    print(f"billed seconds: submit {api_s['submit']}, poll {api_s['poll']}, authorizer {api_s['authorizer']}; "
          f"worker own time {worker_own_ms:.0f} ms, per-batch overhead {per_batch_s * 1000:.0f} ms; memory {mem}\n")
    print(f"{'':<{width}}  " + "  ".join(f"{k:>14}" for k in rows))
    for name in names:
        print(f"{name:<{width}}  " + "  ".join(f"{rows[k][name]:>14.5f}" for k in rows))
    print(f"{'total, excluding the LLM':<{width}}  " + "  ".join(f"{sum(r.values()):>14.4f}" for r in rows.values()))
    print(f"\nLLM (gpt-4.1-mini, {LLM_INPUT_TOKENS} in + {LLM_OUTPUT_TOKENS} out tokens): ${llm:.2f} per 1,000 questions")
    out = RESULTS / "cost_model.json"
    out.write_text(json.dumps({"prices": PRICES, "prices_date": PRICES_DATE, "polls": args.polls,
                               "billed_seconds": api_s, "worker_own_ms": worker_own_ms,
                               "per_batch_overhead_s": per_batch_s, "memory_mb": mem,
                               "dollars_per_1000": rows, "llm_dollars_per_1000": llm}, indent=2) + "\n")
    print(f"written: {out.relative_to(env.ROOT)}")


if __name__ == "__main__":
    main()

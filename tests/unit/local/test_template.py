"""Invariants of template.yaml that the code relies on, read the way the local runner reads it."""

import yaml

from rag_api.app import app
from ragcore.local.template import _CfnLoader, load_template
from tests.support.paths import ROOT

TEMPLATE = load_template(ROOT / "template.yaml")
RAW = yaml.load((ROOT / "template.yaml").read_text(), Loader=_CfnLoader)  # noqa: S506
WORKER_ENV = RAW["Resources"]["WorkerFunction"]["Properties"]["Environment"]["Variables"]


def test_functions_and_routes() -> None:
    assert TEMPLATE.api.handler == "rag_api.app.handler"
    assert TEMPLATE.worker.function.handler == "rag_worker.handler.handler"
    # Every route of the app, and only those, is wired in API Gateway.
    app_routes = {
        (method.upper(), path) for path, item in app.openapi()["paths"].items() for method in item
    }
    assert set(TEMPLATE.api_routes) == app_routes | {("GET", "/openapi.json")}
    assert RAW["Resources"]["RestApi"]["Type"] == "AWS::Serverless::Api"  # REST, not HTTP API
    assert RAW["Globals"]["Function"]["Runtime"] == "python3.12"
    assert RAW["Globals"]["Function"]["Architectures"] == ["x86_64"]


def test_queue_settings_follow_the_worker() -> None:
    worker = TEMPLATE.worker
    assert worker.queue.visibility_timeout >= 6 * worker.function.timeout
    assert worker.queue.max_receive_count == 5
    assert int(WORKER_ENV["JOB_MAX_ATTEMPTS"]) == worker.queue.max_receive_count
    assert worker.function.timeout <= int(WORKER_ENV["JOB_LEASE_SECONDS"]) < worker.queue.visibility_timeout
    # The SDK's exponential backoff between its tries is ~1.5 s; 10 s leaves room. (A server's
    # Retry-After can ask for longer; bounding that is part of the reliability work.)
    backoff = 10
    budget = 3 * int(WORKER_ENV["LLM_TIMEOUT_SECONDS"]) + backoff + int(WORKER_ENV["QDRANT_TIMEOUT_SECONDS"])
    assert budget < worker.function.timeout
    events = RAW["Resources"]["WorkerFunction"]["Properties"]["Events"]
    assert events["Jobs"]["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]


def test_gateway_errors_use_the_apps_error_shape() -> None:
    responses = RAW["Resources"]["RestApi"]["Properties"]["GatewayResponses"]
    for kind in ("DEFAULT_4XX", "DEFAULT_5XX"):
        assert responses[kind]["ResponseTemplates"]["application/json"].startswith('{"error": {"code": ')


def test_the_openai_key_is_never_plaintext() -> None:
    assert "OPENAI_API_KEY" not in WORKER_ENV
    assert WORKER_ENV["OPENAI_API_KEY_SECRET_ARN"] == {"!Ref": "OpenAIApiKeySecretArn"}
    assert RAW["Parameters"]["ExistingValkeyUrl"]["NoEcho"] is True

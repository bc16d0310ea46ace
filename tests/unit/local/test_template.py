"""Invariants of template.yaml that the code relies on, read the way the local runner reads it."""

import pytest
import yaml

from rag_api.app import app
from rag_api.auth import RequireKey
from rag_api.ui_routes import FILES as UI_FILES
from ragcore.config import Settings
from ragcore.local.template import _CfnLoader, load_template
from ragcore.services.retries import RedeliveryPolicy
from tests.support.paths import ROOT

TEMPLATE = load_template(ROOT / "template.yaml")
RAW = yaml.load((ROOT / "template.yaml").read_text(), Loader=_CfnLoader)  # noqa: S506
WORKER_ENV = RAW["Resources"]["WorkerFunction"]["Properties"]["Environment"]["Variables"]


def _routes(routes: list) -> set[tuple[str, str]]:
    return {(method, route.path) for route in routes for method in getattr(route, "methods", None) or ()}


_REQUIRE_KEY = next(m for m in app.user_middleware if m.cls is RequireKey)
PUBLIC = _routes(_REQUIRE_KEY.kwargs["public_routes"])
# Included routers sit behind one entry each in app.routes; the schema lists every operation.
OPERATIONS = {(method.upper(), path) for path, item in app.openapi()["paths"].items() for method in item}
KEYED = OPERATIONS - PUBLIC


def test_functions_and_routes() -> None:
    assert TEMPLATE.api.handler == "rag_api.app.handler"
    assert {w.function.logical_id for w in TEMPLATE.workers} == {"WorkerFunction", "IngestFunction", "WebhookFunction"}
    assert {w.function.handler for w in TEMPLATE.workers} == {"rag_worker.handler.handler",
                                                                "rag_worker.webhooks.handler"}
    assert TEMPLATE.queue_env == {"JOBS_QUEUE_URL": "JobsQueue", "INGEST_QUEUE_URL": "IngestQueue",
                                  "WEBHOOK_QUEUE_URL": "WebhookQueue"}
    # Every route of the app, and only those, is wired in API Gateway.
    app_routes = OPERATIONS
    pages = {("GET", path) for path in UI_FILES}  # /ui, /docs and their files: not in the schema
    preflights = {("OPTIONS", path) for _, path in KEYED}  # CORS: reach the app without a key
    assert TEMPLATE.streaming is not None
    served = set(TEMPLATE.api_routes) | set(TEMPLATE.streaming.routes)
    assert served == app_routes | pages | preflights | {("GET", "/openapi.json")}
    assert not set(TEMPLATE.api_routes) & set(TEMPLATE.streaming.routes)
    assert RAW["Resources"]["RestApi"]["Type"] == "AWS::Serverless::Api"  # REST, not HTTP API
    assert RAW["Globals"]["Function"]["Runtime"] == "python3.12"
    assert RAW["Globals"]["Function"]["Architectures"] == ["x86_64"]


def test_the_gateway_asks_for_a_key_exactly_where_the_app_does() -> None:
    """The authorizer and the usage plan guard every route the app keys (all but its public
    list); public ones (health, the OpenAPI document, pages) and preflights opt out, and
    nothing else does."""
    assert ("POST", "/chat") in KEYED and ("GET", "/") in PUBLIC
    auth = RAW["Resources"]["RestApi"]["Properties"]["Auth"]
    assert auth["DefaultAuthorizer"] == "KeyAuthorizer" and auth["ApiKeyRequired"] is True
    assert RAW["Resources"]["RestApi"]["Properties"]["ApiKeySourceType"] == "AUTHORIZER"
    events = {**RAW["Resources"]["ApiFunction"]["Properties"]["Events"],
              **RAW["Resources"]["StreamFunction"]["Properties"]["Events"]}
    for name, event in events.items():
        route = (event["Properties"]["Method"].upper(), event["Properties"]["Path"])
        opted_out = event["Properties"].get("Auth") == {"Authorizer": "NONE", "ApiKeyRequired": False}
        assert opted_out == (route in PUBLIC or route[0] == "OPTIONS"), name
        if route in KEYED:
            assert "Auth" not in event["Properties"], name


def test_the_streaming_route_runs_the_api_app_under_the_web_adapter() -> None:
    """StreamFunction: the API's code and app, run by the Lambda Web Adapter in
    response_stream mode behind a streaming integration, with time for a whole connection."""
    assert TEMPLATE.streaming is not None
    stream = TEMPLATE.streaming
    props = RAW["Resources"][stream.function.logical_id]["Properties"]
    env = props["Environment"]["Variables"]
    assert stream.routes == [("GET", "/jobs/{job_id}/events")]
    assert stream.function.code_uri == TEMPLATE.api.code_uri
    module, _, attribute = stream.app.partition(":")
    assert (module, attribute) == ("rag_api.app", "app")  # the object the API's handler wraps
    assert env["AWS_LAMBDA_EXEC_WRAPPER"] == "/opt/bootstrap" and env["AWS_LWA_INVOKE_MODE"] == "response_stream"
    assert any("layer:LambdaAdapterLayerX86:" in str(layer) for layer in props["Layers"])
    assert (stream.function.code_uri / stream.function.handler).stat().st_mode & 0o111  # executable
    assert stream.function.timeout > int(env["EVENTS_MAX_SECONDS"])
    assert int(env["EVENTS_MAX_SECONDS"]) == Settings().events_max_seconds


@pytest.mark.parametrize("function_id", ["WorkerFunction", "IngestFunction"])
def test_queue_settings_follow_each_worker(function_id: str) -> None:
    worker = TEMPLATE.trigger(function_id)
    env = RAW["Resources"][function_id]["Properties"]["Environment"]["Variables"]
    assert worker.queue.visibility_timeout >= 6 * worker.function.timeout
    assert int(env["JOB_MAX_ATTEMPTS"]) == worker.queue.max_receive_count
    assert worker.function.timeout <= int(env["JOB_LEASE_SECONDS"]) < worker.queue.visibility_timeout
    events = RAW["Resources"][function_id]["Properties"]["Events"]
    assert all(e["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"] for e in events.values())


def test_one_llm_call_fits_in_the_chat_workers_timeout() -> None:
    """Retries and every call's timeout are cut to the invocation's remaining budget at run
    time; this checks that a single try, at least, fits."""
    worker = TEMPLATE.trigger("WorkerFunction")
    settings = Settings()
    one_try = int(WORKER_ENV["LLM_TIMEOUT_SECONDS"]) + int(WORKER_ENV["QDRANT_TIMEOUT_SECONDS"])
    assert one_try + settings.invocation_margin_seconds < worker.function.timeout


@pytest.mark.parametrize(("function_id", "variable"), [
    ("WorkerFunction", "JOB_DEADLINE_SECONDS"), ("IngestFunction", "DOCUMENT_JOB_DEADLINE_SECONDS"),
])
def test_a_jobs_deadline_leaves_time_for_every_delivery(function_id: str, variable: str) -> None:
    queue = TEMPLATE.trigger(function_id).queue
    deadline = int(RAW["Globals"]["Function"]["Environment"]["Variables"][variable])
    assert deadline >= (queue.max_receive_count + 1) * queue.visibility_timeout
    assert deadline == getattr(Settings(), variable.lower())  # the code's default agrees


def test_a_chat_job_whose_llm_stays_down_is_failed_within_ten_minutes() -> None:
    """Every delivery running to the function's timeout (an LLM that hangs; one that answers
    5xx at once takes a few seconds a delivery), plus each redelivery's delay."""
    worker = TEMPLATE.trigger("WorkerFunction")
    settings = Settings()
    policy = RedeliveryPolicy.from_settings(settings)
    attempts = int(WORKER_ENV["JOB_MAX_ATTEMPTS"])
    assert attempts == worker.queue.max_receive_count
    assert [policy.delay(n) for n in range(1, attempts)] == [10, 30, 90, 120]
    assert policy.time_to_verdict(attempts, worker.function.timeout) <= 600
    # Each delay is shorter than the visibility timeout it replaces.
    assert all(policy.delay(n) < worker.queue.visibility_timeout for n in range(1, attempts))


@pytest.mark.parametrize(
    ("function_id", "queue_id"), [("WorkerFunction", "JobsQueue"), ("IngestFunction", "IngestQueue")]
)
def test_workers_may_bring_their_own_messages_back_sooner(function_id: str, queue_id: str) -> None:
    statements = [statement for policy in RAW["Resources"][function_id]["Properties"]["Policies"]
                  if isinstance(policy, dict) and "Statement" in policy for statement in policy["Statement"]]
    assert {"Effect": "Allow", "Action": ["sqs:ChangeMessageVisibility"],
            "Resource": {"!GetAtt": f"{queue_id}.Arn"}} in statements


def test_gateway_errors_use_the_apps_error_shape() -> None:
    responses = RAW["Resources"]["RestApi"]["Properties"]["GatewayResponses"]
    for kind, response in responses.items():
        assert response["ResponseTemplates"]["application/json"].startswith('{"error": {"code": '), kind
        # Readable by a browser page on another origin (they hold no data).
        assert response["ResponseParameters"]["Headers"]["Access-Control-Allow-Origin"] == (
            "method.request.header.Origin"), kind
    assert responses["UNAUTHORIZED"]["StatusCode"] == "401"
    # An authorizer that cannot reach Valkey raises: API Gateway calls that a configuration
    # error. Either way the client is told to retry, never that its key is wrong.
    for kind in ("AUTHORIZER_FAILURE", "AUTHORIZER_CONFIGURATION_ERROR"):
        assert responses[kind]["StatusCode"] == "503"
        assert responses[kind]["ResponseParameters"]["Headers"]["Retry-After"] == "'5'"


def test_the_openai_key_is_never_plaintext() -> None:
    assert "OPENAI_API_KEY" not in WORKER_ENV
    assert WORKER_ENV["OPENAI_API_KEY_SECRET_ARN"] == {"!Ref": "OpenAIApiKeySecretArn"}
    assert RAW["Parameters"]["ExistingValkeyUrl"]["NoEcho"] is True


def test_api_gateways_chat_model_matches_the_apps_request_model() -> None:
    """API Gateway refuses bad /chat bodies before the function runs; it must refuse exactly
    what the app would (and the app still checks: offline there is no gateway model)."""
    from ragcore.domain.messages import ChatRequest

    gateway = RAW["Resources"]["RestApi"]["Properties"]["Models"]["ChatRequest"]
    app = ChatRequest.model_json_schema()
    assert gateway["required"] == app["required"] and gateway["additionalProperties"] is False
    assert set(gateway["properties"]) == set(app["properties"])
    query, top_k = app["properties"]["query"], app["properties"]["top_k"]
    assert (gateway["properties"]["query"]["minLength"], gateway["properties"]["query"]["maxLength"]) == (
        query["minLength"], query["maxLength"])
    assert (gateway["properties"]["top_k"]["minimum"], gateway["properties"]["top_k"]["maximum"]) == (
        top_k["minimum"], top_k["maximum"])
    collection = app["properties"]["collection"]
    assert gateway["properties"]["collection"]["pattern"] == collection["pattern"]
    modes = app["$defs"]["RetrievalMode"]["enum"]
    assert gateway["properties"]["mode"]["enum"] == modes
    chat = RAW["Resources"]["ApiFunction"]["Properties"]["Events"]["Chat"]["Properties"]
    assert chat["RequestModel"] == {"Model": "ChatRequest", "Required": True, "ValidateBody": True}


def test_a_chat_batch_runs_at_once() -> None:
    """Every record of a chat batch gets a thread (throughput: BatchSize jobs per LLM latency),
    and no batching window holds a lone job back (latency)."""
    from rag_worker.handler import MAX_RECORD_THREADS

    worker = TEMPLATE.trigger("WorkerFunction")
    assert worker.batch_size <= MAX_RECORD_THREADS
    assert worker.batching_window_seconds == 0 and worker.batch_size <= 10  # SQS's limit without a window


def test_the_api_may_send_message_batches_to_both_queues() -> None:
    """POST /chat/batch calls SendMessageBatch, which IAM authorizes as sqs:SendMessage (SQS has
    no action of its own for a batch; SAM's SQSSendMessagePolicy grants "sqs:SendMessage*")."""
    statements = [statement for policy in RAW["Resources"]["ApiFunction"]["Properties"]["Policies"]
                  if isinstance(policy, dict) and "Statement" in policy for statement in policy["Statement"]]
    sending = [s for s in statements if "sqs:SendMessage" in s["Action"]]
    assert [s["Resource"] for s in sending] == [[{"!GetAtt": "JobsQueue.Arn"}, {"!GetAtt": "IngestQueue.Arn"}],
                                                {"!GetAtt": "WebhookQueue.Arn"}]  # a job it ends: its webhook

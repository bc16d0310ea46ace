"""The whole offline stack in one object: services up, queues made from the template, the
same Lambda handlers wired to real HTTP and real SQS. Used by `ragcore dev`, `ragcore demo`
and the integration and end-to-end tests."""

from __future__ import annotations

import functools
import json
import logging
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from ragcore.bootstrap import aws_client, installed
from ragcore.config import Settings
from ragcore.domain.answers import AnswerMode
from ragcore.local.attach import LOCAL_CREDENTIALS, local_queue_name
from ragcore.local.handlers import invoke, load_handler
from ragcore.local.http_gateway import HttpGateway, routes_of
from ragcore.local.metrics_endpoint import ENDPOINTS as METRICS_ENDPOINTS
from ragcore.local.processes import (
    LOCAL_LLM_ALIAS,
    LlmService,
    LocalStackService,
    ValkeyService,
    ensure_ports_free,
)
from ragcore.local.sqs_poller import SqsPoller
from ragcore.local.template import Template, load_template
from ragcore.local.web_adapter import WebAdapter

log = logging.getLogger(__name__)

BUCKET_NAME = "ragcore-documents"
# Where the OpenAI SDK sends requests when no base URL is given.
OPENAI_API_URL = "https://api.openai.com/v1"
# The stack's own SQS and S3 calls (set-up, the pollers' long polls): not a request's, no rush.
STACK_READ_TIMEOUT = 30.0


@dataclass
class StackOptions:
    host: str
    api_port: int
    valkey_port: int
    localstack_port: int
    llm_port: int
    data_dir: Path
    localstack_python: Path
    llm_python: Path
    llm_threads: int
    template_path: Path = Path("template.yaml")
    region: str = "us-east-1"
    with_llm: bool = True  # run the bundled model; otherwise the settings' LLM endpoint answers
    serve: bool = True  # run the HTTP gateway and the SQS poller, not just the services
    visibility_timeout: int | None = None  # tests shorten the template's value
    # The local model's context: the largest prompt the token budget lets through plus the
    # answer (LLM_PROMPT_TOKEN_BUDGET + LLM_MAX_TOKENS), so no admitted prompt overflows it.
    llm_context_tokens: int = (
        Settings.model_fields["llm_prompt_token_budget"].default
        + Settings.model_fields["llm_max_tokens"].default
    )
    # What the handlers' settings start from; the stack puts its services' addresses over it.
    # None: the environment's, read when the stack starts.
    settings: Settings | None = None

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> "StackOptions":
        values: dict[str, Any] = dict(
            host=settings.dev_host,
            api_port=settings.dev_api_port,
            valkey_port=settings.dev_valkey_port,
            localstack_port=settings.dev_localstack_port,
            llm_port=settings.dev_llm_port,
            data_dir=settings.dev_data_dir,
            localstack_python=settings.dev_localstack_python,
            llm_python=settings.dev_llm_python,
            llm_threads=settings.dev_llm_threads,
            llm_context_tokens=settings.llm_prompt_token_budget + settings.llm_max_tokens,
            region=settings.aws_region,
            with_llm=not names_llm_endpoint(settings),
            settings=settings,
        )
        values.update(overrides)
        return cls(**values)


class DevStack:
    def __init__(self, options: StackOptions) -> None:
        self.options = options
        self.template: Template = load_template(options.template_path)
        self._cleanup = ExitStack()
        self.api_url = ""
        self.queue_urls: dict[str, str] = {}  # by the queue's logical id in the template
        # What the handlers see (installed while the stack runs), and the same as environment
        # variables, for processes started against the stack.
        self.settings: Settings | None = None
        self.env: dict[str, str] = {}
        self.llm_in_use = ""  # which model answers, and where: for the start-up output

    @property
    def services(self) -> str:
        """What starting the stack starts, for the start-up output."""
        return "Valkey, LocalStack SQS, embedded Qdrant" + (", local LLM" if self.options.with_llm else "")

    def __enter__(self) -> "DevStack":
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        o = self.options
        data = o.data_dir.resolve()
        ensure_ports_free(o.host, self._ports())
        localstack = LocalStackService(o.localstack_python, o.host, o.localstack_port, data / "localstack")
        localstack.start()
        self._cleanup.callback(localstack.stop)
        llm = None
        if o.with_llm:
            llm = LlmService(
                o.llm_python, o.host, o.llm_port, o.llm_threads, data / "logs", o.llm_context_tokens
            )
            llm.start()
            self._cleanup.callback(llm.stop)
        valkey = ValkeyService(o.host, o.valkey_port, data / "valkey")
        valkey.start()
        self._cleanup.callback(valkey.stop)
        migrate_offline_registry(valkey.url)
        localstack.wait_ready()
        if llm:
            llm.wait_ready()

        _set_aside_outdated_collections(data / "qdrant")
        base = o.settings or Settings()
        services: dict[str, Any] = dict(
            aws_region=o.region,
            aws_endpoint_url=localstack.url,
            **LOCAL_CREDENTIALS,
            valkey_url=valkey.url,
            qdrant_path=data / "qdrant",
            # The offline stack serves this machine only; keys are for a deployed API
            # (`ragcore keys create` works offline too, with AUTH_DISABLED=0).
            auth_disabled=base.auth_disabled if "auth_disabled" in base.model_fields_set else True,
            # The handlers' metrics go to this process's Prometheus registry (GET /metrics),
            # not to stdout as EMF lines for CloudWatch.
            metrics_backend="prometheus",
            # Webhook receivers offline listen on this machine, over http (docs/WEBHOOKS.md).
            webhook_allow_private=(base.webhook_allow_private if "webhook_allow_private" in base.model_fields_set
                                   else True),
        )
        if llm:
            services.update(openai_base_url=llm.base_url, llm_model=LOCAL_LLM_ALIAS, llm_timeout_seconds=120)
            # The bundled model misattributes when it writes freely (docs/ANSWERS.md): it only
            # rewords the sentence the service chose, unless ANSWER_MODE says otherwise.
            if "answer_mode" not in base.model_fields_set:
                services.update(answer_mode=AnswerMode.EXTRACTIVE)
        settings = base.updated(**services)
        sqs = aws_client(settings, "sqs", STACK_READ_TIMEOUT)
        queues = self._create_queues(sqs)
        aws_client(settings, "s3", STACK_READ_TIMEOUT).create_bucket(Bucket=BUCKET_NAME)
        self.settings = settings.updated(documents_bucket=BUCKET_NAME, **queues)
        self.env = {**self.settings.as_env(), "AWS_DEFAULT_REGION": o.region}
        self.llm_in_use = (
            f"{LOCAL_LLM_ALIAS}, bundled (llama.cpp, {o.llm_threads} threads)" if llm else describe_llm(self.settings)
        )
        # The handlers get these settings, as a Lambda function reads its environment.
        self._cleanup.enter_context(installed(self.settings))
        if o.serve:
            _build_vector_indexes(data / "qdrant")
            self._serve(sqs)

    def _ports(self) -> dict[str, int]:
        """The ports this stack will listen on, by service and the setting that moves it."""
        o = self.options
        ports = {
            "Valkey, DEV_VALKEY_PORT": o.valkey_port, "LocalStack, DEV_LOCALSTACK_PORT": o.localstack_port,
        }
        if o.with_llm:
            ports["LLM server, DEV_LLM_PORT"] = o.llm_port
        if o.serve:
            ports["API gateway, DEV_API_PORT"] = o.api_port
        return ports

    def _create_queues(self, sqs: Any) -> dict[str, str]:
        """One queue (with its dead-letter queue) per SQS-triggered function, configured as the
        template configures it; returns their URLs by the setting the template names them in."""
        for worker in self.template.workers:
            queue = worker.queue
            name = local_queue_name(queue.logical_id)
            dlq_url = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
            dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
                "QueueArn"
            ]
            visibility = self.options.visibility_timeout or queue.visibility_timeout
            url = sqs.create_queue(
                QueueName=name,
                Attributes={
                    "VisibilityTimeout": str(visibility),
                    "RedrivePolicy": json.dumps(
                        {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(queue.max_receive_count)}
                    ),
                },
            )["QueueUrl"]
            # create_queue returns an existing queue unchanged; make its settings match.
            sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": str(visibility)})
            self.queue_urls[queue.logical_id] = url
        return {variable.lower(): self.queue_urls[queue_id] for variable, queue_id in self.template.queue_env.items()}

    def _serve(self, sqs: Any) -> None:
        o, t = self.options, self.template
        api_handler = load_handler(t.api)
        for worker in t.workers:
            url = self.queue_urls[worker.queue.logical_id]
            arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            poller = SqsPoller(
                sqs,
                url,
                arn,
                o.region,
                functools.partial(invoke, worker.function, load_handler(worker.function)),
                batch_size=worker.batch_size,
                batching_window_seconds=worker.batching_window_seconds,
            )
            poller.start()
            self._cleanup.callback(poller.stop)
        adapter = None
        if t.streaming:
            adapter = WebAdapter(t.streaming)
            adapter.start()
            self._cleanup.callback(adapter.stop)
        gateway = HttpGateway(
            o.host,
            o.api_port,
            routes_of(t),
            t.stage,
            lambda event: invoke(t.api, api_handler, event),
            local_endpoints=METRICS_ENDPOINTS,
            web_adapter=adapter,
        )
        gateway.start()
        self._cleanup.callback(gateway.stop)
        self.api_url = gateway.url

    def stop(self) -> None:
        self._cleanup.close()


def names_llm_endpoint(settings: Settings) -> bool:
    """Whether the settings choose the LLM: OPENAI_BASE_URL (any OpenAI-compatible server) or
    OPENAI_API_KEY (OpenAI's own API). The offline stack then leaves its bundled model off and
    the workers call that endpoint, as the deployed stack does."""
    return bool(settings.openai_base_url or settings.openai_api_key)


def describe_llm(settings: Settings) -> str:
    """The model and endpoint the settings name, for a person to read: never the key, and the
    URL without any user or password it may carry."""
    url = urlsplit(settings.openai_base_url or OPENAI_API_URL)
    host = url.hostname or ""
    host = f"[{host}]" if ":" in host else host
    netloc = f"{host}:{url.port}" if url.port else host
    return f"{settings.llm_model} at {urlunsplit((url.scheme, netloc, url.path, '', ''))}"


def migrate_offline_registry(valkey_url: str) -> None:
    """Document registry entries an older ragcore wrote offline move to the names that keep a
    document and its collection's index in one cluster slot (idempotent; a no-op once done)."""
    from ragcore.adapters.valkey_client import connect
    from ragcore.adapters.valkey_documents import migrate_registry_keys

    client = connect(valkey_url, timeout_seconds=5)
    try:
        migrate_registry_keys(client)
    finally:
        client.close()


def _build_vector_indexes(qdrant_dir: Path) -> None:
    """Build the HNSW graph of every embedded collection before the stack serves. The
    embedded engine builds it only when asked, and its binding holds the GIL for the whole
    build, so it cannot run once the API and workers (threads of this process) are up;
    documents ingested through the API since the last start are indexed here instead. A no-op
    for a collection already built or too small to index (under ~6,500 chunks, as the sample
    documents are), so a usual start pays only the opening of each collection."""
    from ragcore.adapters.qdrant_edge_index import QdrantEdgeIndex

    collections = sorted(p.parent.name for p in qdrant_dir.glob("*/wal") if ".outdated-" not in p.parent.name)
    if not collections:
        return
    index = QdrantEdgeIndex(qdrant_dir, dimension=0)  # opens existing collections only
    try:
        for collection in collections:
            started = time.perf_counter()
            index.optimize(collection)
            log.info("collection %r indexed in %.1f s", collection, time.perf_counter() - started)
    finally:
        index.close()  # the handlers open their own


def _set_aside_outdated_collections(qdrant_dir: Path) -> None:
    """Collections an older ragcore built offline lack BM25 vectors; they are moved aside (not
    deleted) so the stack starts, and their documents can be ingested again."""
    from ragcore.adapters.qdrant_edge_index import QdrantEdgeIndex

    for path in sorted(qdrant_dir.glob("*/wal")):
        collection = path.parent
        if ".outdated-" not in collection.name and QdrantEdgeIndex.is_outdated(collection):
            target = collection.with_name(f"{collection.name}.outdated-{int(time.time())}")
            collection.rename(target)
            log.warning("collection %r was built by an older ragcore; moved to %s", collection.name, target)

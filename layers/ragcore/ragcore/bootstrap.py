"""The only place that builds real adapters, from a ``Settings`` value. Each is built on first
use and then reused for the life of the process (one Lambda execution environment), so the API
never loads the embedding model and the worker never pays for clients it does not need.

The handlers find the process's container with ``get_container()``. In Lambda it is built from
the environment on first use, at start-up; the CLI, the offline stack and tests build their
settings and ``install`` them instead, so nothing writes the environment to configure the app."""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Callable, Iterator, TypeVar

from pydantic import SecretStr

from ragcore.config import Settings
from ragcore.ports import (
    BlobStore,
    ChatModel,
    ConversationStore,
    DeadLetters,
    DocumentStore,
    Embedder,
    GatewayKeys,
    IdempotencyStore,
    JobQueue,
    JobRecords,
    JobStore,
    KeyStore,
    QueueDepth,
    VectorIndex,
    WebhookQueue,
    WebhookSecrets,
    WebhookSender,
    WebhookStore,
)

T = TypeVar("T")

if TYPE_CHECKING:
    from ragcore.observability.metrics import MetricsSink
    from ragcore.services.parsing import ParseLimits
    from ragcore.services.prompting import PromptLimits


def traced(adapter: T, dependency: str) -> T:
    """Each call a subsegment of the X-Ray trace in Lambda; the adapter itself elsewhere."""
    from ragcore.observability.tracing import traced as wrap

    return wrap(adapter, dependency)


class Container:
    def __init__(self, settings: Settings, **adapters: Any) -> None:
        """``adapters``: ones built already, by property name (a test's fakes: ``embedder=...``),
        used instead of building them from ``settings``."""
        self.settings = settings
        self._built: dict[str, Any] = dict(adapters)
        self._build_lock = threading.RLock()

    def _once(self, name: str, build: Callable[[], T]) -> T:
        """Build an adapter at most once, even when several threads ask for it at the same time
        (the worker's records and the local runner's requests run on threads)."""
        with self._build_lock:
            if name not in self._built:
                self._built[name] = build()
            return self._built[name]

    @property
    def job_store(self) -> JobStore:
        return self._once("job_store", self._job_store)

    @property
    def document_store(self) -> DocumentStore:
        return self._once("document_store", self._document_store)

    @property
    def conversations(self) -> ConversationStore:
        """Conversations expire as jobs do: a conversation lives as long as its newest turn's job."""
        from ragcore.adapters.valkey_conversations import ValkeyConversationStore

        return self._once("conversations", lambda: traced(
            ValkeyConversationStore(self._valkey(), self.settings.job_ttl_seconds), "valkey"))

    @property
    def blob_store(self) -> BlobStore:
        return self._once("blob_store", self._blob_store)

    @property
    def queue(self) -> JobQueue:
        return self._once("queue", self._queue)

    @property
    def embedder(self) -> Embedder:
        return self._once("embedder", self._embedder)

    @property
    def vector_index(self) -> VectorIndex:
        return self._once("vector_index", self._vector_index)

    @property
    def chat_model(self) -> ChatModel:
        return self._once("chat_model", self._chat_model)

    @property
    def metrics(self) -> "MetricsSink":
        """EMF lines on stdout (Lambda, the default), the local runner's Prometheus registry
        (``METRICS_BACKEND=prometheus``), or nothing (``off``)."""
        return self._once("metrics", self._metrics)

    def _metrics(self) -> "MetricsSink":
        backend = self.settings.metrics_backend
        if backend == "prometheus":
            from ragcore.observability.prometheus import PrometheusMetrics

            return PrometheusMetrics()
        if backend == "emf":
            from ragcore.observability.emf import EmfMetrics

            return EmfMetrics()
        from ragcore.observability.metrics import NullMetrics

        return NullMetrics()

    def valkey_client(self) -> Any:
        """The Valkey client the stores share, for one-off maintenance (``ragcore migrate-registry``)."""
        return self._valkey()

    def _valkey(self) -> Any:
        """One client (one connection pool) for the job store, registry and keys."""
        from ragcore.adapters.valkey_client import connect

        def build() -> Any:
            s = self.settings
            password = self._secret(s.valkey_password, s.valkey_password_secret_arn)
            return connect(s.valkey_url, s.dependency_timeout_seconds, s.valkey_username, password)

        return self._once("valkey", build)

    def _job_store(self) -> JobStore:
        from ragcore.adapters.valkey_jobs import ValkeyJobStore
        from ragcore.observability.metered import MeteredJobStore

        store = traced(ValkeyJobStore(self._valkey(), self.settings.job_ttl_seconds), "valkey")
        metered: JobStore = MeteredJobStore(store, self.metrics)  # type: ignore[assignment]
        queue = self.webhook_queue
        if queue is None:
            return metered
        from ragcore.services.webhooks import AnnouncingJobStore

        return AnnouncingJobStore(metered, queue)  # type: ignore[return-value]

    # --- Completion webhooks (services/webhooks.py) ---

    @property
    def webhook_queue(self) -> WebhookQueue | None:
        """None where no webhook queue is configured: jobs then end unannounced."""
        url = self.settings.webhook_queue_url
        if not url:
            return None
        from ragcore.adapters.sqs_webhook_queue import SqsWebhookQueue

        return self._once("webhook_queue", lambda: traced(SqsWebhookQueue(self._aws_client("sqs"), url), "sqs"))

    @property
    def webhook_store(self) -> WebhookStore:
        from ragcore.adapters.valkey_webhooks import ValkeyWebhookStore

        return self._once("webhook_store", lambda: traced(
            ValkeyWebhookStore(self._valkey(), self.settings.job_ttl_seconds), "valkey"))

    @property
    def webhook_secrets(self) -> WebhookSecrets:
        from ragcore.adapters.valkey_webhooks import ValkeyWebhookSecrets

        return self._once("webhook_secrets", lambda: traced(ValkeyWebhookSecrets(self._valkey()), "valkey"))

    @property
    def webhook_sender(self) -> WebhookSender:
        from ragcore.adapters.webhook_http import PinnedHttpSender

        s = self.settings
        return self._once("webhook_sender", lambda: traced(
            PinnedHttpSender(s.webhook_timeout_seconds, s.webhook_allow_private), "webhook"))

    def _document_store(self) -> DocumentStore:
        from ragcore.adapters.valkey_documents import ValkeyDocumentStore

        return traced(ValkeyDocumentStore(self._valkey()), "valkey")

    def _aws_client(self, service: str, read_timeout: float | None = None, **config: Any) -> Any:
        return aws_client(self.settings, service, read_timeout, **config)

    def _job_queue_urls(self) -> dict[str, str]:
        """The job queues by the name commands give them (``job_kinds.QueueName``): jobs, and
        ingest when document jobs have a queue of their own."""
        from ragcore.domain.job_kinds import QueueName

        s = self.settings
        if not s.jobs_queue_url:
            raise ValueError("JOBS_QUEUE_URL is not set")
        queues = {QueueName.JOBS.value: s.jobs_queue_url}
        if s.ingest_queue_url and s.ingest_queue_url != s.jobs_queue_url:
            queues[QueueName.INGEST.value] = s.ingest_queue_url
        return queues

    def _queue(self) -> JobQueue:
        from ragcore.adapters.sqs_queue import SqsJobQueue

        s = self.settings
        if not s.jobs_queue_url:
            raise ValueError("JOBS_QUEUE_URL is not set")
        from ragcore.observability.metered import MeteredJobQueue

        client = self._aws_client("sqs")
        queue = traced(SqsJobQueue(client, s.jobs_queue_url, s.ingest_queue_url), "sqs")
        return MeteredJobQueue(queue, self.metrics)  # type: ignore[return-value]

    @property
    def key_store(self) -> KeyStore:
        from ragcore.adapters.valkey_keys import ValkeyKeyStore

        return self._once("key_store", lambda: traced(ValkeyKeyStore(self._valkey()), "valkey"))

    @property
    def idempotency_store(self) -> IdempotencyStore:
        from ragcore.adapters.valkey_idempotency import ValkeyIdempotencyStore

        return self._once("idempotency_store", lambda: traced(ValkeyIdempotencyStore(self._valkey()), "valkey"))

    @property
    def gateway_keys(self) -> GatewayKeys | None:
        """None where no usage plan meters keys at the edge (offline, or USAGE_PLAN_ID unset)."""
        from ragcore.adapters.apigateway_keys import ApiGatewayKeys

        plan = self.settings.usage_plan_id
        if not plan:
            return None
        return self._once("gateway_keys", lambda: ApiGatewayKeys(
            self._aws_client("apigateway"), plan))

    @property
    def api_key_pepper(self) -> str:
        """In Lambda the pepper must come from configuration: the offline default is public."""
        s = self.settings
        pepper = self._secret(s.api_key_pepper, s.api_key_pepper_secret_arn)
        if pepper:
            return pepper
        if s.aws_lambda_function_name:
            raise ValueError("set API_KEY_PEPPER_SECRET_ARN (or API_KEY_PEPPER) in AWS Lambda")
        return "ragcore-local-development-pepper"

    def dead_letter_queues(self) -> dict[str, DeadLetters]:
        """The dead-letter queue of each job queue: "jobs", and "ingest" when it is separate.
        Built on demand: only a redrive reads them."""
        from ragcore.adapters.sqs_dead_letters import SqsDeadLetters

        queues = self._job_queue_urls()
        client = self._aws_client("sqs")
        return {name: SqsDeadLetters(client, url) for name, url in queues.items()}

    def job_records(self) -> JobRecords:
        """Every stored job record (``ragcore stats``); a scan, never on a request's path."""
        from ragcore.adapters.valkey_job_records import ValkeyJobRecords

        return ValkeyJobRecords(self._valkey())

    def queue_depths(self) -> dict[str, QueueDepth]:
        """Messages in the jobs and ingest queues and their dead-letter queues (``ragcore stats``)."""
        from ragcore.adapters.sqs_depth import queue_depths

        return queue_depths(self._aws_client("sqs"), self._job_queue_urls())

    @property
    def parse_limits(self) -> "ParseLimits":
        """What one document may cost to read (the worker's document jobs, ``ragcore ingest``)."""
        from ragcore.services.parsing import ParseLimits

        s = self.settings
        return ParseLimits(
            max_pages=s.max_document_pages, max_chars=s.max_document_chars, max_chunks=s.max_document_chunks,
            pdf_seconds=s.pdf_parse_seconds, pdf_memory_mb=s.pdf_parse_memory_mb,
        )

    @property
    def prompt_limits(self) -> "PromptLimits":
        """The token budget every LLM call is held to."""
        from ragcore.services.prompting import PromptLimits

        s = self.settings
        return PromptLimits(budget_tokens=s.llm_prompt_token_budget, passage_tokens=s.llm_passage_token_limit)

    def _secret(self, value: SecretStr | None, secret_arn: str | None) -> str | None:
        """A secret given directly (local) or by Secrets Manager ARN (AWS; cached 5 minutes),
        read with the same short timeouts as every other AWS call."""
        if value:
            return value.get_secret_value()
        if not secret_arn:
            return None
        from aws_lambda_powertools.utilities.parameters import SecretsProvider

        def provider() -> SecretsProvider:
            client = self._aws_client("secretsmanager", self.settings.dependency_timeout_seconds * 2)
            return SecretsProvider(boto3_client=client)

        return str(self._once("secrets", provider).get(secret_arn, max_age=300))

    def _blob_store(self) -> BlobStore:
        from ragcore.adapters.s3_blobs import S3BlobStore

        s = self.settings
        if not s.documents_bucket:
            raise ValueError("DOCUMENTS_BUCKET is not set")
        # Path-style URLs work with LocalStack and with any bucket name; signed with SigV4.
        # The read timeout is per socket read (not the whole body): under the API's 15 s.
        client = self._aws_client(
            "s3", 10.0, signature_version="s3v4", s3={"addressing_style": "path"}
        )
        return traced(S3BlobStore(client, s.documents_bucket), "s3")

    def _embedder(self) -> Embedder:
        from ragcore.adapters.onnx_embedder import OnnxEmbedder

        return traced(OnnxEmbedder(self.settings.embedding_model_dir, self.settings.embedder_threads), "embedding")

    def _vector_index(self) -> VectorIndex:
        s = self.settings
        dimension = self.embedder.dimension
        if s.qdrant_url:
            from qdrant_client import QdrantClient

            from ragcore.adapters.qdrant_server_index import QdrantServerIndex

            api_key = self._secret(s.qdrant_api_key, s.qdrant_api_key_secret_arn)
            # cloud_inference: BM25 documents are embedded by the Qdrant server, not by fastembed here.
            client = QdrantClient(
                url=s.qdrant_url, api_key=api_key, timeout=s.qdrant_timeout_seconds, cloud_inference=True
            )
            return traced(QdrantServerIndex(client, dimension), "qdrant")
        if s.aws_lambda_function_name:
            raise ValueError(
                "QDRANT_URL must be set in AWS Lambda: the embedded Qdrant keeps its data on "
                "local disk, which Lambda discards"
            )
        from ragcore.adapters.qdrant_edge_index import QdrantEdgeIndex

        return traced(QdrantEdgeIndex(s.qdrant_path, dimension), "qdrant")

    def _chat_model(self) -> ChatModel:
        import openai

        from ragcore.adapters.openai_chat import OpenAIChatModel
        from ragcore.observability.metered import MeteredChatModel

        s = self.settings
        api_key = self._secret(s.openai_api_key, s.openai_api_key_secret_arn)
        if api_key is None:
            if not s.openai_base_url:
                raise ValueError("set OPENAI_API_KEY or OPENAI_API_KEY_SECRET_ARN")
            api_key = "unused"  # a local OpenAI-compatible server needs no key
        client = openai.OpenAI(
            api_key=api_key,
            base_url=s.openai_base_url,
            timeout=s.llm_timeout_seconds,
            max_retries=0,  # the job runner retries, within what the invocation has left
        )
        model = traced(
            OpenAIChatModel(client, s.llm_model, s.llm_max_tokens, s.llm_temperature, s.llm_timeout_seconds), "llm"
        )
        return MeteredChatModel(model, self.metrics)  # type: ignore[return-value]


def aws_client(settings: Settings, service: str, read_timeout: float | None = None, **config: Any) -> Any:
    """A boto3 client as ``settings`` say: region, endpoint (LocalStack offline), credentials
    when given (else boto3's own chain), and timeouts short enough to fail within a request
    (``read_timeout`` for calls that wait longer: uploads, long polls)."""
    import boto3
    from botocore.config import Config

    s = settings
    secret, token = s.aws_secret_access_key, s.aws_session_token
    client = boto3.client(
        service,
        region_name=s.aws_region,
        endpoint_url=s.aws_endpoint_url,
        aws_access_key_id=s.aws_access_key_id,
        aws_secret_access_key=secret.get_secret_value() if secret else None,
        aws_session_token=token.get_secret_value() if token else None,
        config=Config(
            connect_timeout=s.dependency_timeout_seconds,
            read_timeout=read_timeout or s.dependency_timeout_seconds,
            retries={"mode": "standard", "max_attempts": 3},
            **config,
        ),
    )
    if s.aws_endpoint_url:
        # LocalStack's gateway closes every connection unless asked to keep it
        # (localstack#6557), so each call would connect anew: ~1 ms of its CPU per SQS
        # send (bench/api.py). AWS keeps connections open anyway.
        client.meta.events.register("before-send", _keep_alive)
    return client


def _keep_alive(request: Any, **_: Any) -> None:
    request.headers["Connection"] = "keep-alive"


_container: Container | None = None
_container_lock = threading.Lock()


def get_container() -> Container:
    """The installed container; in Lambda, where nothing installs one, the first call builds
    it from the environment: a function's start-up, as a CLI command's is where it reads its
    own ``Settings()``. Past start-up, settings travel as values."""
    global _container
    with _container_lock:
        if _container is None:
            _container = Container(Settings())
            _apply_validation_settings(_container)
        return _container


def _apply_validation_settings(container: Container | None) -> None:
    """What request validation reads from the installed settings (pydantic models see no
    container): whether callback URLs may name private addresses (``domain/callbacks.py``)."""
    from ragcore.domain.callbacks import allow_private

    allow_private(container.settings.webhook_allow_private if container is not None else False)


def use(container: Container | None) -> Container | None:
    """Make ``container`` the one ``get_container()`` returns in this process (None: build one
    from the environment on next use). Returns the one it replaces, to give back later."""
    global _container
    with _container_lock:
        previous, _container = _container, container
        _apply_validation_settings(container)
    return previous


def install(settings: Settings) -> Container:
    """A container built from ``settings``, for the rest of the process (a CLI command)."""
    container = Container(settings)
    use(container)
    return container


@contextmanager
def installed(settings: Settings) -> Iterator[Container]:
    """A container built from ``settings`` while the block runs; the previous one after. No
    reference is kept here, so a container installed over it frees its adapters at once (the
    embedded index's folder lock with them), as the process's only container would."""
    previous = use(Container(settings))
    try:
        yield get_container()
    finally:
        use(previous)

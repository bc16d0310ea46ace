"""The one settings object. A Lambda function reads it from its environment variables once,
at start-up (``bootstrap.get_container``; names in the README's table); the CLI, the offline
stack and tests build it and hand it to ``bootstrap.install``.

Standard names are used where the ecosystem has them (``OPENAI_API_KEY``, ``OPENAI_BASE_URL``,
``AWS_ENDPOINT_URL``, ``AWS_REGION``, ``AWS_ACCESS_KEY_ID``); the rest are plain upper-case
field names.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from ragcore.domain.answers import AnswerMode
from ragcore.domain.callbacks import RetrySchedule
from ragcore.local.defaults import DEV_API_PORT, DEV_HOST

PACKAGE_DIR = Path(__file__).resolve().parent
DEFAULT_MODEL_DIR = PACKAGE_DIR / "models" / "all-MiniLM-L6-v2"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(case_sensitive=False, extra="ignore")

    # Job store and queue
    valkey_url: str = "redis://127.0.0.1:6379/0"
    # ElastiCache user-group auth (AWS): the user, and its password from Secrets Manager.
    valkey_username: str | None = None
    valkey_password: SecretStr | None = None
    valkey_password_secret_arn: str | None = None
    jobs_queue_url: str | None = None
    # Document jobs (ingest, delete) go here when set; otherwise to the jobs queue.
    ingest_queue_url: str | None = None
    aws_region: str = "us-east-1"
    aws_endpoint_url: str | None = None
    # Unset in AWS, where boto3 finds the function's role itself; the offline stack gives
    # LocalStack's fixed pair here rather than in the process's environment.
    aws_access_key_id: str | None = None
    aws_secret_access_key: SecretStr | None = None
    aws_session_token: SecretStr | None = None
    dependency_timeout_seconds: float = Field(default=2.0, gt=0, le=10)
    # How long a job record (status and result) is kept after it is created.
    job_ttl_seconds: int = Field(default=7 * 24 * 3600, ge=60)
    # A job not finished by then, and held by no live worker, is failed by its next reader.
    # At least (maxReceiveCount + 1) x VisibilityTimeout, so every delivery fits with room:
    # chat 6 x 360 s (+ 4 min), document jobs 6 x 5400 s.
    job_deadline_seconds: int = Field(default=2400, ge=1)
    document_job_deadline_seconds: int = Field(default=32400, ge=1)
    # A started job is re-claimable once its lease ends; keep it >= the worker timeout and
    # < the queue's visibility timeout (template.yaml), so a redelivery finds it expired.
    job_lease_seconds: int = Field(default=90, ge=1)
    # Deliveries before a job whose failures are transient is failed; keep it equal to the
    # queue's maxReceiveCount, so the job is failed as its message goes to the DLQ.
    job_max_attempts: int = Field(default=5, ge=1)
    # Transient failures (LLM 429/5xx/timeouts, a dependency down) are retried inside an
    # invocation this many times in all, with exponential backoff, while time is left; the
    # margin is kept back to record the outcome before Lambda's timeout.
    retry_tries: int = Field(default=3, ge=1, le=10)
    retry_initial_seconds: float = Field(default=0.5, ge=0)
    retry_max_seconds: float = Field(default=8.0, ge=0)
    invocation_margin_seconds: float = Field(default=5.0, ge=0)
    # Then the message comes back after initial x 3^(delivery-1) s, at most max (10, 30, 90,
    # 120 s), not the queue's whole visibility timeout: with the template's chat worker a job
    # whose LLM stays down is failed within ~9 minutes (docs/RELIABILITY.md, "Timeline").
    redelivery_initial_seconds: int = Field(default=10, ge=1, le=43200)
    redelivery_max_seconds: int = Field(default=120, ge=1, le=43200)
    # Idempotency-Key (rag_api/idempotency.py): a 2xx answer is replayed for this long; a
    # request in progress holds its key at most IDEMPOTENCY_HOLD_SECONDS (> the API function's
    # 25 s timeout), so a crashed one frees the key soon after.
    idempotency_ttl_seconds: int = Field(default=24 * 3600, ge=1)
    idempotency_hold_seconds: int = Field(default=30, ge=1, le=3600)

    # GET /jobs/{id}/events (docs/STREAMING.md): one connection ends after this long and the
    # client resumes with Last-Event-ID (StreamFunction's Timeout leaves room for it; API
    # Gateway ends a stream at 15 minutes).
    events_max_seconds: int = Field(default=300, ge=1, le=840)

    # Completion webhooks (docs/WEBHOOKS.md): deliveries go through their own queue; each
    # failed attempt waits the next of WEBHOOK_RETRY_DELAYS (seconds, the last repeats), over
    # WEBHOOK_MAX_ATTEMPTS attempts (= the queue's maxReceiveCount): about 98 minutes by default.
    webhook_queue_url: str | None = None
    webhook_retry_delays: str = Field(default="30,60,120,300,600,1200,1800,1800", pattern=r"^\d+(,\d+)*$")
    webhook_max_attempts: int = Field(default=9, ge=1)
    # Connect, and each read, of one POST; the whole POST, up to the receiver's status and
    # headers, is cut off at twice this (domain/callbacks.post_deadline_seconds).
    webhook_timeout_seconds: float = Field(default=5.0, gt=0, le=5)
    # After `ragcore webhooks secret rotate`, deliveries carry a signature by the old secret too
    # for this long, so receivers can switch when they like.
    webhook_secret_grace_seconds: int = Field(default=24 * 3600, ge=0)
    # Offline only (refused in AWS Lambda): callbacks over http and to loopback or private
    # addresses, where the local receivers are.
    webhook_allow_private: bool = False

    # Documents: uploaded files are handed to the worker through this bucket.
    documents_bucket: str | None = None
    # A file sent in the request body; API Gateway and Lambda cap a request at 6-10 MB and
    # binary bodies arrive base64-encoded (4/3 larger), so larger files use presigned uploads.
    max_inline_document_bytes: int = Field(default=4 * 1024 * 1024, ge=1024)
    max_upload_bytes: int = Field(default=50 * 1024 * 1024, ge=1024)
    # Bounds on one document's parse (issue 15), as the worker's job errors say (413): what a
    # file costs to read does not follow from its size (a 4.6 kB PDF can hold 1.2 M chars).
    # The PDF reader runs in a child process killed after PDF_PARSE_SECONDS, its address
    # space capped at PDF_PARSE_MEMORY_MB.
    max_document_pages: int = Field(default=1000, ge=1)
    max_document_chars: int = Field(default=4_000_000, ge=1000)
    max_document_chunks: int = Field(default=20_000, ge=1)
    pdf_parse_seconds: float = Field(default=60.0, gt=0, le=840)
    pdf_parse_memory_mb: int = Field(default=1024, ge=256)
    # Caps on what one tenant holds (issue 15): each collection is an index shard, each document
    # its chunks. A new collection or document past them is refused with 409, nothing queued.
    max_collections_per_tenant: int = Field(default=100, ge=1)
    max_documents_per_collection: int = Field(default=10_000, ge=1)

    # Retrieval
    qdrant_url: str | None = None
    qdrant_api_key: SecretStr | None = None
    qdrant_api_key_secret_arn: str | None = None
    qdrant_timeout_seconds: int = Field(default=5, ge=1, le=60)
    qdrant_path: Path = Path(".data/qdrant")
    embedding_model_dir: Path = DEFAULT_MODEL_DIR
    embedder_threads: int = Field(default=1, ge=1, le=16)

    # LLM (any OpenAI-compatible endpoint)
    openai_api_key: SecretStr | None = None
    openai_api_key_secret_arn: str | None = None
    openai_base_url: str | None = None
    llm_model: str = "gpt-4.1-mini"
    llm_max_tokens: int = Field(default=400, ge=16, le=8192)
    llm_temperature: float = Field(default=0.0, ge=0, le=2)
    # generated: the LLM writes the answer, the citation check holds its [n] to the passages.
    # extractive: the service quotes the passage sentence that answers (or declines) and the
    # LLM may only reword it; for small models, which misattribute (docs/ANSWERS.md).
    answer_mode: AnswerMode = AnswerMode.GENERATED
    # Per call, and never more than the invocation has left.
    llm_timeout_seconds: float = Field(default=15.0, gt=0)
    # A generated answer is streamed and kept on its job as it is written (partial_answer): the
    # first piece at once, then one write at most this often, text held back written when the
    # interval ends (services/partial_answers.py).
    partial_answer_interval_ms: int = Field(default=100, ge=0, le=60_000)
    # Prompt size (issue 15), in tokens estimated as UTF-8 bytes (an upper bound; see
    # services/prompting.py): the whole prompt, and each passage in it. With LLM_MAX_TOKENS they
    # bound what one chat request can cost. The budget's floor leaves room for the largest
    # question (2,000 characters, 8,000 bytes) and the fixed instructions.
    llm_prompt_token_budget: int = Field(default=12_000, ge=10_000, le=1_000_000)
    llm_passage_token_limit: int = Field(default=1_000, ge=100, le=100_000)

    # API keys. The pepper keys the stored hashes (set it, or its Secrets Manager ARN, in
    # AWS). AUTH_DISABLED lets every request in: local development only, refused in Lambda.
    auth_disabled: bool = False
    api_key_pepper: SecretStr | None = None  # unset offline: a fixed development pepper
    api_key_pepper_secret_arn: str | None = None
    # AWS: the stage's usage plan; each new key gets an API Gateway key in it (the edge throttle).
    usage_plan_id: str | None = None

    # Browser origins allowed to call the API (CORS), comma-separated; none by default. A
    # wildcard is refused: keys travel in headers, and "*" would let any page spend them.
    cors_allow_origins: str = ""

    @field_validator("cors_allow_origins")
    @classmethod
    def _no_wildcard(cls, value: str) -> str:
        if "*" in value:
            raise ValueError("CORS_ALLOW_ORIGINS must list origins; '*' is not allowed")
        return value

    @model_validator(mode="after")
    def _redelivery_grows(self) -> "Settings":
        if self.redelivery_max_seconds < self.redelivery_initial_seconds:
            raise ValueError("REDELIVERY_MAX_SECONDS must be at least REDELIVERY_INITIAL_SECONDS")
        return self

    @model_validator(mode="after")
    def _auth_stays_on_in_lambda(self) -> "Settings":
        if self.aws_lambda_function_name and self.auth_disabled:
            raise ValueError("AUTH_DISABLED is for local development only; it is refused in AWS Lambda")
        return self

    @model_validator(mode="after")
    def _webhooks_stay_public_in_lambda(self) -> "Settings":
        if self.aws_lambda_function_name and self.webhook_allow_private:
            raise ValueError("WEBHOOK_ALLOW_PRIVATE is for local development only; it is refused in AWS Lambda")
        return self

    @property
    def webhook_schedule(self) -> RetrySchedule:
        delays = tuple(int(d) for d in self.webhook_retry_delays.split(","))
        return RetrySchedule(delays, self.webhook_max_attempts)

    def updated(self, **changes: Any) -> "Settings":
        """A copy with ``changes``, validated as values from the environment are. The fields
        it holds as set are this one's and the changes, as if given so (the rest default)."""
        return type(self).model_validate({**self.model_dump(exclude_unset=True), **changes})

    def as_env(self) -> dict[str, str]:
        """These settings as the environment variables that give them back: for a child
        process that reads its settings as a deployed function does."""
        env = {}
        for name, value in self.model_dump(exclude_none=True).items():
            env[name.upper()] = value.get_secret_value() if isinstance(value, SecretStr) else str(value)
        return env

    @property
    def cors_origins(self) -> list[str]:
        return [origin.strip() for origin in self.cors_allow_origins.split(",") if origin.strip()]

    # Where metrics go: EMF lines on stdout (Lambda; CloudWatch reads them), the local
    # runner's Prometheus registry (served at /metrics), or nowhere.
    metrics_backend: Literal["emf", "prometheus", "off"] = "emf"

    # Offline stack only (`ragcore dev` / `ragcore demo`); unused in AWS.
    dev_host: str = DEV_HOST
    dev_api_port: int = DEV_API_PORT
    dev_valkey_port: int = 16399
    dev_localstack_port: int = 14566
    dev_llm_port: int = 18089
    dev_data_dir: Path = Path(".data")
    dev_localstack_python: Path = Path(".venv-localstack/bin/python")
    dev_llm_python: Path = Path(".venv-llm/bin/python")
    dev_llm_threads: int = Field(default=2, ge=1)

    # Set by the Lambda runtime itself.
    aws_lambda_function_name: str | None = None

    def job_deadline_for(self, kind: str) -> int:
        from ragcore.domain.job_kinds import DeadlineClass, policy

        return {DeadlineClass.CHAT: self.job_deadline_seconds,
                DeadlineClass.DOCUMENT: self.document_job_deadline_seconds}[policy(kind).deadline]


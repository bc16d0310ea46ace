"""The only place that builds real adapters. Each is built on first use and then reused for
the life of the process (one Lambda execution environment), so the API never loads the
embedding model and the worker never pays for clients it does not need."""

from __future__ import annotations

import threading
from functools import cached_property

from pydantic import SecretStr

from ragcore.config import Settings, get_settings
from ragcore.ports import ChatModel, Embedder, JobQueue, JobStore, VectorIndex


class Container:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        # cached_property has no lock since Python 3.12; the worker builds adapters from
        # several threads at once, so construction is serialised here.
        self._build_lock = threading.RLock()

    @cached_property
    def job_store(self) -> JobStore:
        from ragcore.adapters.valkey_jobs import ValkeyJobStore

        s = self.settings
        return ValkeyJobStore.from_url(s.valkey_url, s.job_ttl_seconds, s.dependency_timeout_seconds)

    @cached_property
    def queue(self) -> JobQueue:
        import boto3
        from botocore.config import Config

        from ragcore.adapters.sqs_queue import SqsJobQueue

        s = self.settings
        if not s.jobs_queue_url:
            raise ValueError("JOBS_QUEUE_URL is not set")
        client = boto3.client(
            "sqs",
            region_name=s.aws_region,
            endpoint_url=s.aws_endpoint_url,
            config=Config(
                connect_timeout=s.dependency_timeout_seconds,
                read_timeout=s.dependency_timeout_seconds * 2,
                retries={"mode": "standard", "max_attempts": 3},
            ),
        )
        return SqsJobQueue(client, s.jobs_queue_url)

    @cached_property
    def embedder(self) -> Embedder:
        with self._build_lock:
            from ragcore.adapters.onnx_embedder import OnnxEmbedder

            return OnnxEmbedder(self.settings.embedding_model_dir, self.settings.embedder_threads)

    @cached_property
    def vector_index(self) -> VectorIndex:
        with self._build_lock:
            s = self.settings
            dimension = self.embedder.dimension
            if s.qdrant_url:
                from qdrant_client import QdrantClient

                from ragcore.adapters.qdrant_server_index import QdrantServerIndex

                api_key = _secret(s.qdrant_api_key, s.qdrant_api_key_secret_arn)
                client = QdrantClient(url=s.qdrant_url, api_key=api_key, timeout=int(s.llm_timeout_seconds))
                return QdrantServerIndex(client, dimension)
            from ragcore.adapters.qdrant_edge_index import QdrantEdgeIndex

            return QdrantEdgeIndex(s.qdrant_path, dimension)

    @cached_property
    def chat_model(self) -> ChatModel:
        with self._build_lock:
            import openai

            from ragcore.adapters.openai_chat import OpenAIChatModel

            s = self.settings
            api_key = _secret(s.openai_api_key, s.openai_api_key_secret_arn)
            if api_key is None:
                if not s.openai_base_url:
                    raise ValueError("set OPENAI_API_KEY or OPENAI_API_KEY_SECRET_ARN")
                api_key = "unused"  # a local OpenAI-compatible server needs no key
            client = openai.OpenAI(
                api_key=api_key,
                base_url=s.openai_base_url,
                timeout=s.llm_timeout_seconds,
                max_retries=s.llm_max_retries,
            )
            return OpenAIChatModel(client, s.llm_model, s.llm_max_tokens, s.llm_temperature)


def _secret(value: SecretStr | None, secret_arn: str | None) -> str | None:
    """A secret given directly (local) or by Secrets Manager ARN (AWS; cached 5 minutes)."""
    if value:
        return value.get_secret_value()
    if secret_arn:
        from aws_lambda_powertools.utilities import parameters

        return str(parameters.get_secret(secret_arn, max_age=300))
    return None


_container: Container | None = None
_container_lock = threading.Lock()


def get_container() -> Container:
    global _container
    with _container_lock:
        if _container is None:
            _container = Container(get_settings())
        return _container


def reset_container() -> None:
    """Forget built adapters, e.g. after the environment changed (tests, local runner)."""
    global _container
    with _container_lock:
        _container = None
    get_settings.cache_clear()

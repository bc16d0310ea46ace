"""Every job kind has a row in the policy table and something that runs it: a new kind that
misses one fails here, not on its first message."""

from __future__ import annotations

from rag_worker.handler import _RUNNERS

from ragcore.domain.job_kinds import POLICIES, JobKind, ResultShape
from ragcore.services.document_jobs import _WORK


def test_every_kind_has_a_policy_and_a_runner() -> None:
    assert set(POLICIES) == set(JobKind)
    assert set(_RUNNERS) == set(JobKind)


def test_document_kinds_have_their_work() -> None:
    documents = {kind for kind, rule in POLICIES.items() if rule.result is ResultShape.DOCUMENT}
    assert documents and set(_WORK) == documents

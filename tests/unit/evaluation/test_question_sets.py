"""The question sets in samples/questions: well formed, and every gold sentence really is in
its document and whole in one of its chunks, so each answerable question can be answered and
cited from a retrieved passage."""

from __future__ import annotations

import pytest

from ragcore.domain.chunking import chunk_text
from ragcore.evaluation.answers import Question, contains, load_questions
from tests.support.paths import ROOT, SAMPLES

QUESTIONS = ROOT / "samples" / "questions"
SETS = sorted(QUESTIONS.glob("*.jsonl"))


def flat(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture(scope="module", params=SETS, ids=[p.name for p in SETS])
def question_set(request: pytest.FixtureRequest) -> list[Question]:
    return load_questions(request.param)  # checks the format and that ids are unique


def test_the_sets_are_there() -> None:
    assert {p.name for p in SETS} >= {"dev.jsonl", "smoke.jsonl"}


def test_sizes() -> None:
    dev, smoke = load_questions(QUESTIONS / "dev.jsonl"), load_questions(QUESTIONS / "smoke.jsonl")
    assert sum(q.answerable for q in dev) >= 40 and sum(not q.answerable for q in dev) >= 5
    assert (sum(q.answerable for q in smoke), sum(not q.answerable for q in smoke)) == (4, 1)


def test_smoke_questions_are_dev_questions() -> None:
    dev = {q.id: q for q in load_questions(QUESTIONS / "dev.jsonl")}
    assert all(dev.get(q.id) == q for q in load_questions(QUESTIONS / "smoke.jsonl"))


def test_evidence_is_verbatim_in_its_document(question_set: list[Question]) -> None:
    for q in filter(lambda q: q.answerable, question_set):
        document = SAMPLES / str(q.document)
        assert document.is_file(), f"{q.id}: no {document}"
        assert flat(str(q.evidence)) in flat(document.read_text(encoding="utf-8")), q.id


def test_evidence_is_whole_in_a_chunk(question_set: list[Question]) -> None:
    chunks: dict[str, list[str]] = {}
    for q in filter(lambda q: q.answerable, question_set):
        if q.document not in chunks:
            chunks[str(q.document)] = [c.text for c in chunk_text((SAMPLES / str(q.document)).read_text())]
        assert any(contains(chunk, str(q.evidence)) for chunk in chunks[str(q.document)]), q.id


def test_the_gold_answer_is_in_the_evidence_not_in_the_question(question_set: list[Question]) -> None:
    for q in filter(lambda q: q.answerable, question_set):
        assert any(contains(str(q.evidence), alias) for alias in q.answers), q.id
        assert not any(contains(q.question, alias) for alias in q.answers), q.id


"""`ragcore eval answers`' report from hand-made outcomes: the JSON rows, the table, the list
of failures, and a malformed question file refused before any stack starts."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import pytest

from ragcore.cli.eval_answers import Asked, _print_failures, _print_table, _report, run
from ragcore.evaluation.answers import Question

LIT = Question("lit", "When was it first lit?", ("12 October 1874",),
               "It was first lit on 12 October 1874.", "skerry-point-lighthouse.md")
ARCHITECT = Question("architect", "Who designed it?")
RIGHT = "Skerry Point Lighthouse\nIt was first lit on 12 October 1874."
OTHER = "Skerry Point Lighthouse › The light\nThe tower is 31 metres tall."


def result(answer: str, *texts: str, model: str = "m") -> dict[str, Any]:
    sources = [{"n": n, "chunk_id": "c", "document_id": f"doc{n}", "title": "t", "source": "s", "score": 1.0,
                "snippet": t[:20], "text": t} for n, t in enumerate(texts, start=1)]
    return {"answer": answer, "sources": sources, "model": model,
            "timings_ms": {"embed_ms": 1, "retrieval_ms": 1, "llm_ms": 100, "total_ms": 102}}


@pytest.fixture
def report() -> dict[str, Any]:
    args = argparse.Namespace(file=Path("set.jsonl"), top_k=3)
    return _report(args, [
        Asked(LIT, result("First lit on 12 October 1874 [1].", RIGHT, OTHER), 900.0),
        Asked(LIT, result("It was lit in 1874 [2] [7].", OTHER, RIGHT), 1100.0),
        Asked(ARCHITECT, result("Captain Smith designed it.", RIGHT), 1000.0),
        Asked(ARCHITECT, None, None, "job 1: failed"),
    ])


def test_json_rows(report: dict[str, Any]) -> None:
    assert report["failed_jobs"] == ["architect"] and report["model"] == "m"
    first, second, third = report["questions"]
    assert first | {"answer": ""} == {
        "id": "lit", "question": LIT.question, "answerable": True, "answer": "", "sources": ["doc1", "doc2"],
        "declined": False, "end_to_end_ms": 900.0, "worker_ms": 102, "cited": [1], "invalid_citations": 0,
        "fact": True, "citation_correct": True, "retrieved": True, "evidence_in": [1],
    }
    assert (second["fact"], second["citation_correct"], second["evidence_in"], second["invalid_citations"]) == (
        False, True, [2], 1)
    assert "fact" not in third and third["declined"] is False
    assert report["summary"]["answerable"] == 2 and report["summary"]["unanswerable"] == 1


def test_table_and_failures(report: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    _print_table(report)
    _print_failures(report)
    out = capsys.readouterr().out
    assert "set.jsonl: 2 answerable, 1 unanswerable; top_k 3, model m" in out
    assert "fact and right citation" in out and "1/2 (50%)" in out
    assert "1 (in 1 answers)" in out  # the [7] of two sources
    assert "jobs failed (not scored): architect" in out
    assert "as the model cited" not in out  # no result had sentences
    assert "2 question(s) without the fact and a right citation, or not declined" in out
    assert "lit (fact no, citation_correct yes, evidence in [2], cited [2] [7], 1 invalid citation(s))" in out
    assert "architect (unanswerable, not declined)" in out


def test_a_malformed_question_file_is_refused_before_any_stack_starts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"id": "x"}\n')

    def no_stack() -> Any:
        raise AssertionError("started a stack")

    args = argparse.Namespace(file=path, api=None)
    assert run(args, no_stack) == 2
    assert "bad.jsonl:1" in capsys.readouterr().err

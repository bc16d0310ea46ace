"""`ragcore eval answers` on the smoke set, through the offline stack it starts itself with the
bundled LLM: the report is whole and its figures agree with each other and with the answers.
It checks the harness, not the model's quality (docs/ANSWERS.md has those figures)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.support.paths import ROOT, free_port

SMOKE = ROOT / "samples" / "questions" / "smoke.jsonl"


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    ports = {f"DEV_{name}_PORT": str(free_port()) for name in ("API", "VALKEY", "LOCALSTACK", "LLM")}
    data = tmp_path_factory.mktemp("eval-answers")
    env = {**os.environ, "DEV_DATA_DIR": str(data), **ports}
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL"):  # the bundled model, whatever this shell names
        env.pop(name, None)
    run = subprocess.run(
        [sys.executable, "-m", "ragcore.cli", "eval", "answers", str(SMOKE.relative_to(ROOT)), "--json"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=900,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert "ingested " in run.stderr
    return json.loads(run.stdout)  # one JSON object, nothing else on stdout


def questions_in(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_every_question_is_answered_and_reported(report: dict[str, Any]) -> None:
    asked = questions_in(SMOKE)
    assert report["failed_jobs"] == []
    assert [q["id"] for q in report["questions"]] == [q["id"] for q in asked]
    assert report["top_k"] == 3 and report["model"]
    for row in report["questions"]:
        assert row["answer"].strip(), row
        assert 1 <= len(row["sources"]) <= 3
        assert 0 < row["worker_ms"] <= row["end_to_end_ms"]


def test_the_summary_adds_up(report: dict[str, Any]) -> None:
    s, rows = report["summary"], report["questions"]
    answerable = [r for r in rows if r["answerable"]]
    assert (s["answerable"], s["unanswerable"]) == (4, 1) == (len(answerable), len(rows) - len(answerable))
    assert s["fact"] == sum(r["fact"] for r in answerable)
    assert s["citation_correct"] == sum(r["citation_correct"] for r in answerable)
    assert s["fact_and_citation"] == sum(r["fact"] and r["citation_correct"] for r in answerable)
    assert s["fact_and_citation"] <= min(s["fact"], s["citation_correct"])
    assert s["false_declines"] == sum(r["declined"] for r in answerable) <= s["answerable"]
    assert s["declined"] == sum(r["declined"] for r in rows if not r["answerable"]) <= s["unanswerable"]
    latency = s["latency_ms"]
    assert latency["worker"]["p50"] <= latency["worker"]["p95"] <= latency["end_to_end"]["p95"]
    with_model = [s[k] for k in ("model_citation_correct", "model_fact_and_citation", "model_invalid_citations")]
    assert with_model == [None] * 3 or all(isinstance(v, int) for v in with_model)


def test_the_smoke_set_is_retrieved(report: dict[str, Any]) -> None:
    # Retrieval is not the LLM: each smoke question's gold sentence is in a top-3 passage.
    assert report["summary"]["retrieved"] == report["summary"]["answerable"]


def test_invalid_citation_numbers_are_those_outside_the_sources(report: dict[str, Any]) -> None:
    for row in report["questions"]:
        cited = [int(n) for marker in re.findall(r"\[(\d+(?:\s*,\s*\d+)*)\]", row["answer"]) for n in marker.split(",")]
        assert row["cited"] == cited
        assert row["invalid_citations"] == sum(not 1 <= n <= len(row["sources"]) for n in cited)
    s = report["summary"]
    assert s["invalid_citations"] == sum(r["invalid_citations"] for r in report["questions"])
    assert s["answers_with_invalid_citations"] == sum(r["invalid_citations"] > 0 for r in report["questions"])

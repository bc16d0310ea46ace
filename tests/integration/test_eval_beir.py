"""`ragcore eval beir` on a small BEIR-format folder, through the real embedder and the
embedded Qdrant engine."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.support.paths import ROOT

CORPUS = [
    {"_id": "light", "title": "Skerry Point Lighthouse", "text": "The lighthouse was first lit on 12 October 1874 and automated in 1991."},
    {"_id": "bees", "title": "Waggle dance", "text": "Honeybees dance to tell nestmates the direction and distance of food."},
    {"_id": "bread", "title": "Sourdough", "text": "Feed the starter daily with flour and water in a 1:5:5 ratio."},
    {"_id": "sea", "title": "Tidal pools", "text": "Ochre sea stars eat mussels and keep tidal pools diverse."},
]
QUERIES = [
    {"_id": "q1", "text": "When was the lighthouse first lit?"},
    {"_id": "q2", "text": "How do bees communicate where food is?"},
    {"_id": "q3", "text": "an unjudged query that must be ignored"},
]


def write_benchmark(directory: Path) -> None:
    (directory / "qrels").mkdir(parents=True)
    (directory / "corpus.jsonl").write_text("".join(json.dumps(d) + "\n" for d in CORPUS))
    (directory / "queries.jsonl").write_text("".join(json.dumps(q) + "\n" for q in QUERIES))
    (directory / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\tlight\t1\nq2\tbees\t1\n")


def test_json_report_through_the_real_paths(tmp_path: Path) -> None:
    write_benchmark(tmp_path / "tiny")
    env = {**os.environ, "QDRANT_PATH": str(tmp_path / "qdrant")}
    result = subprocess.run(
        [sys.executable, "-m", "ragcore.cli", "eval", "beir", str(tmp_path / "tiny"), "--split", "test", "--json"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout)
    assert {"ndcg@10", "recall@10", "recall@100", "latency_ms_p50", "latency_ms_p95", "queries"} <= set(report)
    assert report["queries"] == 2 and report["documents"] == 4
    assert report["ndcg@10"] == 1.0 and report["recall@10"] == 1.0  # each query's document ranks first
    assert 0 < report["latency_ms_p50"] <= report["latency_ms_p95"]


def test_every_mode_runs_and_a_second_run_can_reuse_the_collection(tmp_path: Path) -> None:
    write_benchmark(tmp_path / "tiny")
    env = {**os.environ, "QDRANT_PATH": str(tmp_path / "qdrant")}
    reports = {}
    for mode, extra in (("hybrid", []), ("dense", ["--skip-ingest"]), ("sparse", ["--skip-ingest"])):
        result = subprocess.run(
            [sys.executable, "-m", "ragcore.cli", "eval", "beir", str(tmp_path / "tiny"), "--split", "test",
             "--mode", mode, "--json", *extra],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
        )
        assert result.returncode == 0, result.stderr[-2000:]
        reports[mode] = json.loads(result.stdout)
    assert {r["mode"] for r in reports.values()} == {"hybrid", "dense", "sparse"}
    assert "chunks_per_second" in reports["hybrid"] and "chunks_per_second" not in reports["dense"]
    assert all(r["recall@10"] == 1.0 for r in reports.values())


def test_the_tuning_and_validation_parts_split_the_judged_queries(tmp_path: Path) -> None:
    write_benchmark(tmp_path / "tiny")
    (tmp_path / "tiny" / "qrels" / "test.tsv").write_text(
        "query-id\tcorpus-id\tscore\n" + "".join(f"q{n}\tlight\t1\n" for n in range(1, 11)))
    question = "When was the lighthouse first lit?"
    (tmp_path / "tiny" / "queries.jsonl").write_text(
        "".join(json.dumps({"_id": f"q{n}", "text": question}) + "\n" for n in range(1, 11)))
    env = {**os.environ, "QDRANT_PATH": str(tmp_path / "qdrant")}
    counts = {}
    for part in ("all", "tuning", "validation"):
        result = subprocess.run(
            [sys.executable, "-m", "ragcore.cli", "eval", "beir", str(tmp_path / "tiny"), "--split", "test",
             "--queries", part, "--json", *(["--skip-ingest"] if part != "all" else [])],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
        )
        assert result.returncode == 0, result.stderr[-2000:]
        report = json.loads(result.stdout)
        assert report["query_set"] == part
        counts[part] = report["queries"]
    assert counts["all"] == 10 and counts["tuning"] + counts["validation"] == 10
    assert counts["tuning"] > 0 and counts["validation"] > 0

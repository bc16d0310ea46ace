"""Bundled-model candidates for the offline stack (issue 17), each run as `make dev` runs its
model — llama.cpp's server from .venv-llm with DEV_LLM_THREADS threads and the stack's context —
and asked a question set by `ragcore eval answers` through the whole pipeline, the stack
pointed at that server by OPENAI_BASE_URL (README, "Use a real model").

    .venv/bin/python bench/llm_candidates.py [NAME=FILE.gguf ...] [--questions FILE] [--sample N]
        [--answer-mode generated|extractive]

With no candidate named, the bundled SmolLM2-135M alone. For each model, one question at a
time: seconds per answer (the worker's, p50 and p95, and the demo question's), prompt and
generation tokens per second from the server's own timings (all its completions), the
server's peak RSS; and `ragcore eval answers`' scores: the fact stated, the fact with a cited
passage holding it, unanswerable questions declined, answerable ones wrongly declined, citation
numbers out of range. ``--sample N``: N questions spread evenly over the set (default
samples/questions/dev.jsonl). ``--answer-mode``: the model writes the answer (generated, the
default for a named endpoint) or rewords the sentence the service chose (extractive, what the
offline stack runs its bundled model in).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.harness import env  # noqa: E402

env.apply()

from ragcore.config import Settings  # noqa: E402
from ragcore.local.processes import LOCAL_LLM_ALIAS, LlmService  # noqa: E402
from tests.support.paths import ROOT, free_port  # noqa: E402

DEMO_QUESTION_ID = "lighthouse-first-lit"  # the demo's question, reworded, in the dev set
# llama.cpp's own timings, printed to the server's log after each completion.
_PROMPT = re.compile(r"prompt eval time =\s*([\d.]+) ms /\s*(\d+) tokens")
_GENERATION = re.compile(r"^\S*\s+eval time =\s*([\d.]+) ms /\s*(\d+) runs", re.MULTILINE)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("candidates", nargs="*", metavar="NAME=FILE.gguf")
    parser.add_argument("--questions", type=Path, default=ROOT / "samples" / "questions" / "dev.jsonl")
    parser.add_argument("--sample", type=int, metavar="N", help="N questions spread over the set")
    parser.add_argument("--answer-mode", choices=["generated", "extractive"], default="generated")
    args = parser.parse_args()
    settings = Settings()
    candidates: dict[str, Path | None] = {LOCAL_LLM_ALIAS: None}
    for given in args.candidates:
        name, _, path = given.partition("=")
        candidates[name] = Path(path)
    work = Path(tempfile.mkdtemp(prefix="bench-llm-"))
    questions = _sample(args.questions, args.sample, work / "questions.jsonl")
    print(f"{questions} ({args.answer_mode} answers); llama.cpp on {settings.dev_llm_threads} threads, "
          f"context {settings.llm_prompt_token_budget + settings.llm_max_tokens}, top_k 3", flush=True)
    print(f"\n{'model':<24}{'s p50':>7}{'s p95':>7}{'s demo':>7}{'prompt t/s':>11}{'gen t/s':>8}{'RSS MiB':>8}"
          f"{'fact':>8}{'fact+cite':>10}{'declined':>9}{'false decl':>11}{'bad [n]':>8}{'failed':>7}{'load':>6}")
    for name, gguf in candidates.items():  # a row as each model finishes: a long run keeps what it has
        r = measure(name, gguf, settings, questions, args.answer_mode, work / name)
        s = r["summary"]
        print(f"{r['name']:<24}{r['p50']:>7.1f}{r['p95']:>7.1f}{r['demo_seconds']:>7.1f}{r['prompt_tok_s']:>11.0f}"
              f"{r['generation_tok_s']:>8.1f}{r['rss_mib']:>8.0f}"
              f"{s['fact']:>5}/{s['answerable']:<2}{s['fact_and_citation']:>7}/{s['answerable']:<2}"
              f"{s['declined']:>7}/{s['unanswerable']:<1}{s['false_declines']:>11}{s['invalid_citations']:>8}"
              f"{len(r['failed']):>7}{r['load']:>6.1f}", flush=True)
        print(f"  demo answer: {r['demo_answer']!r}", flush=True)


def measure(name: str, gguf: Path | None, settings: Settings, questions: Path, mode: str, data: Path) -> dict:
    llm = LlmService(ROOT / ".venv-llm" / "bin" / "python", "127.0.0.1", free_port(), settings.dev_llm_threads,
                     data / "logs", settings.llm_prompt_token_budget + settings.llm_max_tokens, model=gguf, alias=name)
    llm.start()
    try:
        llm.wait_ready()
        ports = {f"DEV_{what}_PORT": str(free_port()) for what in ("API", "VALKEY", "LOCALSTACK", "LLM")}
        run = subprocess.run(
            [str(ROOT / ".venv" / "bin" / "ragcore"), "eval", "answers", str(questions), "--json", "--concurrency", "1"],
            cwd=ROOT, capture_output=True, text=True, check=False,
            env={**os.environ, **ports, "DEV_DATA_DIR": str(data), "OPENAI_BASE_URL": llm.base_url,
                 "LLM_MODEL": name, "ANSWER_MODE": mode,
                 "LLM_TIMEOUT_SECONDS": "120"},  # the stack's own for its bundled model, not a remote one's 15
        )
        if not run.stdout.strip():
            raise SystemExit(f"{name}: ragcore eval answers failed ({run.returncode}):\n{run.stderr[-3000:]}")
        report = json.loads(run.stdout)
        log = llm.log_path.read_text(errors="replace")
        return {"name": name, "load": os.getloadavg()[0], **_speed(report, log, llm.pid)}
    finally:
        llm.stop()


def _sample(questions: Path, n: int | None, target: Path) -> Path:
    if not n:
        return questions
    """N questions spread evenly over the set, the demo's first."""
    lines = [line for line in questions.read_text().splitlines() if line.strip()]
    demo = [line for line in lines if json.loads(line)["id"] == DEMO_QUESTION_ID]
    rest = [line for line in lines if line not in demo]
    k = min(len(rest), n - len(demo))  # first to last, so the unanswerable ones at the end count too
    picked = [rest[round(i * (len(rest) - 1) / (k - 1))] for i in range(k)] if k > 1 else rest[:k]
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text("\n".join(demo + picked) + "\n")
    return target


def _speed(report: dict[str, Any], log: str, pid: int) -> dict[str, Any]:
    prompt = [(float(ms), int(n)) for ms, n in _PROMPT.findall(log)]
    generation = [(float(ms), int(n)) for ms, n in _GENERATION.findall(log)]
    rows = {row["id"]: row for row in report["questions"]}
    demo = rows.get(DEMO_QUESTION_ID, {})
    latency = report["summary"]["latency_ms"]["worker"]
    return {
        "summary": report["summary"],
        "failed": report["failed_jobs"],
        "p50": (latency["p50"] or float("nan")) / 1000,
        "p95": (latency["p95"] or float("nan")) / 1000,
        "demo_seconds": (demo.get("worker_ms") or float("nan")) / 1000,
        "demo_answer": demo.get("answer"),
        "prompt_tok_s": _rate(prompt),
        "generation_tok_s": _rate(generation),
        "rss_mib": _peak_rss_mib(pid),
    }


def _rate(timings: list[tuple[float, int]]) -> float:
    seconds = sum(ms for ms, _ in timings) / 1000
    return sum(n for _, n in timings) / seconds if seconds else float("nan")


def _peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


if __name__ == "__main__":
    main()

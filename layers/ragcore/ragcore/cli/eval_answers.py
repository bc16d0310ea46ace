"""``ragcore eval answers FILE``: a question set (``evaluation/answers.py`` describes the
format) asked through the whole pipeline — HTTP API, queue, worker, retrieval, LLM — as a
client asks it, and the answers scored: fact stated, right passage cited, citation numbers
outside the sources, declines where the documents do not say.

By default it starts the offline stack as ``ragcore demo`` does and ingests ``--docs`` through
the API; ``--api URL`` uses a running API instead (its key from ``$RAGCORE_API_KEY``, as for
``ragcore ask``), ingesting only with ``--ingest``. Exit codes: 0 the set ran (the figures
are measurements, not pass/fail); 1 a question's job or a document's ingestion failed; 2 the
question file is malformed; 3 the stack did not come up or the API refused or could not be
reached; 130 interrupted.
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from ragcore.cli.jobs import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_REFUSED

if TYPE_CHECKING:
    from ragcore.client import Client
    from ragcore.evaluation.answers import Question, Score, Summary
    from ragcore.local.stack import DevStack

# Questions in flight: one in the LLM and one ready behind it. The bundled llama.cpp server
# answers one request at a time, so more only queue there, and on a busy 2-core machine the
# third in line outlasted the worker's 55 s LLM budget (its job was retried, and finished).
DEFAULT_CONCURRENCY = 2
DEFAULT_TIMEOUT = 300.0


def add_parser(benchmarks: "argparse._SubParsersAction[argparse.ArgumentParser]", sample_docs: Path) -> None:
    answers = benchmarks.add_parser(
        "answers", help="ask a question set through the whole pipeline and score the answers and citations"
    )
    answers.add_argument("file", type=Path, help="questions, JSON Lines (e.g. samples/questions/dev.jsonl)")
    answers.add_argument("--top-k", type=int, default=3, help="passages per question (default 3)")
    answers.add_argument("--docs", type=Path, nargs="+", default=[sample_docs],
                         help=f"files and folders to ingest first (default: {sample_docs})")
    answers.add_argument("--collection", default="default")
    answers.add_argument("--api", metavar="URL",
                         help="a running API (e.g. the `ragcore dev` stack, http://127.0.0.1:8787) instead "
                              "of starting one; the key comes from $RAGCORE_API_KEY")
    answers.add_argument("--ingest", action="store_true", help="with --api: ingest --docs first")
    answers.add_argument("--concurrency", type=int, default=DEFAULT_CONCURRENCY,
                         help=f"questions in flight at once (default {DEFAULT_CONCURRENCY})")
    answers.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT,
                         help=f"seconds to wait for each answer (default {DEFAULT_TIMEOUT:g})")
    answers.add_argument("--json", action="store_true", help="print one JSON object")
    answers.add_argument("--show-failures", action="store_true",
                         help="list the questions without the fact and a right citation, or not declined")


@dataclass(frozen=True)
class Asked:
    """One question's outcome: the result document, or why there is none."""

    question: "Question"
    result: dict[str, Any] | None
    end_to_end_ms: float | None
    error: str | None = None


def run(args: argparse.Namespace, start_stack: Callable[[], "DevStack"]) -> int:
    from ragcore.client import ApiError, ApiUnreachable, Client, RagcoreError
    from ragcore.evaluation.answers import load_questions
    from ragcore.local.processes import ServiceStartError

    try:
        questions = load_questions(args.file)
    except (OSError, ValueError) as exc:
        print(f"ragcore: {exc}", file=sys.stderr)
        return 2
    logging.getLogger("httpx").setLevel(logging.WARNING)
    with ExitStack() as running:
        if args.api:
            api_url = args.api
        else:
            logging.getLogger().setLevel(logging.WARNING)
            os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")  # keep the report readable
            # The handlers' loggers write to stdout, as in Lambda: while the stack runs in this
            # process, that is stderr, so stdout holds the report alone (--json).
            running.enter_context(redirect_stdout(sys.stderr))
            stack = start_stack()
            print(f"starting the offline stack ({stack.services})...", file=sys.stderr)
            try:
                api_url = running.enter_context(stack).api_url
            except ServiceStartError as exc:
                print(f"ragcore: the offline stack did not start: {exc}", file=sys.stderr)
                return EXIT_REFUSED
            print(f"LLM: {stack.llm_in_use}", file=sys.stderr)
        client = running.enter_context(Client(api_url))
        try:
            if not args.api or args.ingest:
                if not _ingest(args.docs, args.collection, client.base_url):
                    return EXIT_FAILED
            asked = _ask_all(client, questions, args)
        except (ApiError, ApiUnreachable) as exc:
            print(f"ragcore: {client.base_url}: {exc}", file=sys.stderr)
            return EXIT_REFUSED
        except RagcoreError as exc:
            print(f"ragcore: unexpected answer from {client.base_url}: {exc}", file=sys.stderr)
            return EXIT_REFUSED
        except KeyboardInterrupt:
            print("\nragcore: interrupted; no report", file=sys.stderr)
            return EXIT_INTERRUPTED
    report = _report(args, asked)
    if args.json:
        print(json.dumps(report, ensure_ascii=False))
    else:
        _print_table(report)
        if args.show_failures:
            _print_failures(report)
    failed = [a for a in asked if a.error]
    for one in failed:
        print(f"ragcore: {one.question.id}: {one.error}", file=sys.stderr)
    return EXIT_FAILED if failed else 0


def _ingest(docs: list[Path], collection: str, api_url: str) -> bool:
    from ragcore.cli.ingest import ingest_through_api

    report = ingest_through_api(docs, collection, api_url, show_progress=False)
    print(f"ingested {report.line(collection)}", file=sys.stderr)
    return not any(n for what, n in report.outcomes.items() if what in ("failed", "stopped", "timed out"))


def _ask_all(client: "Client", questions: list["Question"], args: argparse.Namespace) -> list[Asked]:
    done = itertools.count(1)  # next() on it is atomic: the threads share it

    def ask(question: "Question") -> Asked:
        outcome = _ask(client, question, args.collection, args.top_k, args.timeout)
        print(f"\ranswered {next(done)}/{len(questions)}", end="", file=sys.stderr, flush=True)
        return outcome

    pool = ThreadPoolExecutor(max_workers=max(1, args.concurrency))
    try:
        asked = list(pool.map(ask, questions))
    finally:
        # On Ctrl-C, no question still waiting is sent (``with`` would wait for them all).
        pool.shutdown(wait=False, cancel_futures=True)
    print(file=sys.stderr)
    return asked


def _ask(client: "Client", question: "Question", collection: str, top_k: int, timeout: float) -> Asked:
    from ragcore.client import JobFailed, JobStopped, WaitTimeout

    started = time.monotonic()
    job_id = client.submit(question.question, collection=collection, top_k=top_k).job_id
    try:
        result = client.wait(job_id, timeout=timeout)
    except (JobFailed, JobStopped, WaitTimeout) as exc:
        return Asked(question, None, None, f"job {job_id}: {exc}")
    return Asked(question, result.model_dump(mode="json"), (time.monotonic() - started) * 1000)


def _report(args: argparse.Namespace, asked: list[Asked]) -> dict[str, Any]:
    from ragcore.evaluation.answers import score, summarize

    scored = [(a, score(a.question, a.result, a.end_to_end_ms)) for a in asked if a.result is not None]
    # "none": an answer made without the LLM (a decline in extractive mode).
    models = sorted({a.result.get("model", "") for a, _ in scored if a.result} - {"none"})
    return {
        "file": str(args.file),
        "top_k": args.top_k,
        "model": ", ".join(models),
        "failed_jobs": [a.question.id for a in asked if a.error],
        "summary": summarize(s for _, s in scored).as_dict(),
        "questions": [_question_row(a, s) for a, s in scored],
    }


def _question_row(asked: Asked, score: "Score") -> dict[str, Any]:
    result = asked.result or {}
    row: dict[str, Any] = {
        "id": score.id, "question": asked.question.question, "answerable": score.answerable,
        "answer": result.get("answer", ""),
        "sources": [source.get("document_id") for source in result.get("sources", [])],
        "declined": score.declined, "end_to_end_ms": score.end_to_end_ms, "worker_ms": score.worker_ms,
    }
    if score.citations:
        row.update(cited=list(score.citations.numbers), invalid_citations=score.citations.invalid)
    if score.answerable:
        row.update(fact=score.fact, citation_correct=bool(score.citations and score.citations.correct),
                   retrieved=score.retrieved, evidence_in=list(score.evidence_in))
    if score.model_citations:
        row.update(model_cited=list(score.model_citations.numbers),
                   model_citation_correct=score.model_citations.correct)
    return row


def _print_table(report: dict[str, Any]) -> None:
    s = report["summary"]
    answerable, unanswerable = s["answerable"], s["unanswerable"]
    with_model = s["model_citation_correct"] is not None

    def of(n: int, total: int) -> str:
        return f"{n}/{total} ({100 * n / total:.0f}%)" if total else f"{n}/0"

    rows: list[tuple[str, str, str]] = [
        ("fact stated", of(s["fact"], answerable), ""),
        ("a cited passage holds the evidence", of(s["citation_correct"], answerable),
         of(s["model_citation_correct"], answerable) if with_model else ""),
        ("fact and right citation", of(s["fact_and_citation"], answerable),
         of(s["model_fact_and_citation"], answerable) if with_model else ""),
        ("evidence retrieved (any source)", of(s["retrieved"], answerable), ""),
        ("citation numbers outside the sources",
         f"{s['invalid_citations']} (in {s['answers_with_invalid_citations']} answers)",
         str(s["model_invalid_citations"]) if with_model else ""),
        ("unanswerable declined", of(s["declined"], unanswerable), ""),
        ("answerable declined (false declines)", of(s["false_declines"], answerable), ""),
    ]
    for name in ("end_to_end", "worker"):
        p50, p95 = s["latency_ms"][name]["p50"], s["latency_ms"][name]["p95"]
        if p50 is not None:
            rows.append((f"latency {name.replace('_', ' ')} p50 / p95", f"{p50:.0f} / {p95:.0f} ms", ""))
    print(f"{report['file']}: {answerable} answerable, {unanswerable} unanswerable; top_k {report['top_k']}, "
          f"model {report['model'] or '-'}")
    header = ("", "answers", "as the model cited" if with_model else "")
    for name, value, model in [header, *rows]:
        print(f"{name:<40}{value:>18}  {model}".rstrip())
    if report["failed_jobs"]:
        print(f"jobs failed (not scored): {', '.join(report['failed_jobs'])}")


def _print_failures(report: dict[str, Any]) -> None:
    failures = [q for q in report["questions"] if not _succeeded(q)]
    print(f"\n{len(failures)} question(s) without the fact and a right citation, or not declined:")
    for q in failures:
        if q["answerable"]:
            marks = ", ".join(f"{what} {'yes' if q[what] else 'no'}" for what in ("fact", "citation_correct"))
            marks += (f", evidence in {_numbers(q['evidence_in']) or 'no source'}, "
                      f"cited {_numbers(q['cited']) or '-'}")
        else:
            marks = "unanswerable, not declined"
        invalid = f", {q['invalid_citations']} invalid citation(s)" if q.get("invalid_citations") else ""
        print(f"\n{q['id']} ({marks}{invalid})\n  Q: {q['question']}\n  A: {' '.join(q['answer'].split())}")
        print(f"  sources: {', '.join(f'[{n}] {d}' for n, d in enumerate(q['sources'], start=1))}")


def _numbers(numbers: list[int]) -> str:
    return " ".join(f"[{n}]" for n in numbers)


def _succeeded(question: dict[str, Any]) -> bool:
    if question["answerable"]:
        return bool(question["fact"] and question["citation_correct"])
    return bool(question["declined"])

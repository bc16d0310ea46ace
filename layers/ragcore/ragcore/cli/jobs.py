"""``ragcore ask``, ``status``, ``result`` and ``cancel``: jobs through the HTTP API, as any
client would run them (``ragcore.client``).

Exit codes, so scripts can tell outcomes apart: 0 done; 1 the job failed or was stopped;
3 the API refused the request (its one-line reason on stderr) or could not be reached;
4 the job is not finished yet (``ask --timeout`` ran out, or ``result`` came too early; the
job keeps running); 130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from ragcore.cli.options import add_api_option, add_question_options, filter_of
from ragcore.domain.jobs import JobStatus

if TYPE_CHECKING:
    from ragcore.api_schema import Accepted, DocumentResultView, JobResult, JobStatusView, ResultView
    from ragcore.domain.answers import Source
    from ragcore.client import ApiError, Client

EXIT_FAILED, EXIT_REFUSED, EXIT_UNFINISHED, EXIT_INTERRUPTED = 1, 3, 4, 130
DEFAULT_TIMEOUT = 120.0
FILE_TIMEOUT = 1800.0
COMMANDS = ("ask", "status", "result", "cancel")


def add_parsers(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    ask = commands.add_parser("ask", help="ask a question (or a file of them) through the API and wait for "
                                          "the cited answer")
    asked = ask.add_mutually_exclusive_group(required=True)
    asked.add_argument("question", nargs="?")
    asked.add_argument("--file", type=Path, metavar="JSONL",
                       help="one POST /chat body per line ({\"query\": ...}); sent 100 a request "
                            "(POST /chat/batch), followed with GET /jobs; one JSON result per line out")
    ask.add_argument("--output", type=Path, metavar="JSONL", help="with --file: write the results here, not stdout")
    add_question_options(ask, f"seconds to wait for the answer (default {DEFAULT_TIMEOUT:g}; with --file, for "
                              f"every answer, {FILE_TIMEOUT:g}); the job keeps running after it")
    status = commands.add_parser("status", help="a job's status")
    result = commands.add_parser("result", help="a job's result: a chat's answer, or what a document job did")
    cancel = commands.add_parser("cancel", help="stop a chat job")
    for command in (status, result, cancel):
        command.add_argument("job_id")
    for command in (ask, status, result, cancel):
        command.add_argument("--json", action="store_true", help="print the API's JSON document")
        add_api_option(command)


def run(args: argparse.Namespace) -> int:
    commands: dict[str, Callable[[Client, argparse.Namespace], int]] = {
        "ask": _ask, "status": _status, "result": _result, "cancel": _cancel,
    }
    return with_client(args, commands[args.command])


def with_client(args: argparse.Namespace, command: "Callable[[Client, argparse.Namespace], int]") -> int:
    """Runs ``command`` with a client of ``--api`` and turns what ends it into an exit code and
    a one-line reason on stderr: the one mapping of every command that talks to the API."""
    from ragcore.client import (
        ApiError,
        ApiUnreachable,
        Client,
        JobFailed,
        JobStopped,
        RagcoreError,
        WaitTimeout,
    )

    logging.getLogger("httpx").setLevel(logging.WARNING)  # no line per poll
    client = Client(args.api)
    try:
        with client:
            return command(client, args)
    except KeyboardInterrupt:
        return _fail(EXIT_INTERRUPTED, "interrupted")
    except (JobFailed, JobStopped) as exc:
        state = "failed" if isinstance(exc, JobFailed) else "stopped"
        return _fail(EXIT_FAILED, f"job {exc.job_id or args.job_id} {state}: {exc.message}")
    except WaitTimeout as exc:
        return _fail(EXIT_UNFINISHED, f"{exc}; it keeps running (`ragcore status {exc.job_id}`)")
    except ApiError as exc:
        return _fail(EXIT_REFUSED, f"the API refused the request: {refusal(exc)}")
    except ApiUnreachable as exc:
        return _fail(EXIT_REFUSED, f"cannot reach the API at {client.base_url}: {exc}")
    except RagcoreError as exc:  # an answer that is not the API's (UnexpectedResponse)
        return _fail(EXIT_REFUSED, f"unexpected answer from {client.base_url}: {exc}")


def refusal(exc: "ApiError") -> str:
    """The API's error with each field it names (a 422's message alone says only that the
    request is not valid)."""
    details = "; ".join(f"{d.field}: {d.problem}" for d in exc.details)
    return f"{exc} ({details})" if details else str(exc)


def _fail(code: int, message: str) -> int:
    print(f"ragcore: {' '.join(message.split())}", file=sys.stderr)  # one line, whatever the message
    return code


def wait_shown(client: "Client", accepted: "Accepted", timeout: float, live: bool) -> "JobResult":
    """``client.wait`` for the job ``accepted`` names, with its status on stderr and, if
    ``live`` and stdout is a terminal, its answer on stdout as it is written (the job's events
    followed, not polled), erased at the end for the final answer: ``ask`` and ``chat`` alike."""
    from ragcore.cli.live_answer import LiveAnswer
    from ragcore.cli.status_line import StatusLine

    with StatusLine(f"job {accepted.job_id}", sys.stderr) as line, \
            LiveAnswer(sys.stdout, live, before=line.stop) as answer:
        line.show(accepted.status)
        return client.wait(accepted.job_id, timeout=timeout, on_status=line.show,
                           on_text=answer.show if answer.enabled else None)


def _ask(client: "Client", args: argparse.Namespace) -> int:
    from ragcore.client import WaitTimeout

    if args.file:
        return _ask_file(client, args)
    args.timeout = DEFAULT_TIMEOUT if args.timeout is None else args.timeout

    started = time.monotonic()  # --timeout covers the submission and the wait
    accepted = client.submit(args.question, collection=args.collection, top_k=args.top_k, mode=args.mode,
                             timeout=args.timeout, filter=filter_of(args), callback_url=args.callback_url)
    args.job_id = accepted.job_id  # named by the error messages
    try:
        left = max(0.0, args.timeout - (time.monotonic() - started))
        try:
            outcome = wait_shown(client, accepted, left, live=not args.json)
        except WaitTimeout as exc:  # named by the whole --timeout, not what the wait had left
            raise WaitTimeout(exc.job_id, exc.status, args.timeout) from exc
    except KeyboardInterrupt:
        return _fail(EXIT_INTERRUPTED, f"interrupted; job {accepted.job_id} keeps running "
                                       f"(`ragcore cancel {accepted.job_id}` stops it)")
    return _print_result(outcome, args.json)


def _ask_file(client: "Client", args: argparse.Namespace) -> int:
    """Exit 0 when every question is answered, 4 when some are not final by the timeout, else
    1 (some failed, were stopped, were refused or are gone: each line says why)."""
    from ragcore.cli import ask_file

    defaults = {name: value for name, value in
                (("collection", args.collection), ("top_k", args.top_k), ("mode", args.mode),
                 ("filter", filter_of(args)), ("callback_url", args.callback_url)) if value is not None}
    try:
        questions = ask_file.read_questions(args.file, defaults)
    except OSError as exc:
        return _fail(EXIT_REFUSED, f"cannot read {args.file}: {exc.strerror}")
    timeout = FILE_TIMEOUT if args.timeout is None else args.timeout
    try:
        ask_file.ask_file(client, questions, timeout, sys.stderr)
    except KeyboardInterrupt:
        return _fail(EXIT_INTERRUPTED, "interrupted; the questions sent keep running")
    finally:
        if args.output:
            with args.output.open("w", encoding="utf-8") as out:
                ask_file.write_results(questions, out)
        else:
            ask_file.write_results(questions, sys.stdout)
    print(f"ragcore: {ask_file.summary(questions)}", file=sys.stderr)
    statuses = {q.status for q in questions}
    if statuses - {s.value for s in JobStatus if s.is_terminal} - ask_file.GONE:
        return EXIT_UNFINISHED
    return 0 if statuses == {JobStatus.FINISHED.value} else EXIT_FAILED


def _status(client: "Client", args: argparse.Namespace) -> int:
    job = client.status(args.job_id)
    if args.json:
        _print_json(job.model_dump(mode="json"))
    else:
        print(_status_line(job))
    return 0


def _result(client: "Client", args: argparse.Namespace) -> int:
    from ragcore.api_schema import NotReady

    outcome = client.result(args.job_id)
    if isinstance(outcome, NotReady):
        if args.json:
            _print_json(outcome.model_dump(mode="json"))
        return _fail(EXIT_UNFINISHED, f"job {args.job_id} is still {outcome.status.value}: {outcome.message}")
    return _print_result(outcome, args.json)


def _cancel(client: "Client", args: argparse.Namespace) -> int:
    job = client.cancel(args.job_id)
    if args.json:
        _print_json(job.model_dump(mode="json"))
    elif job.status is JobStatus.STOPPED:
        print(f"job {job.job_id} stopped")
    else:
        print(f"job {job.job_id} is {job.status.value}: it stops at its next step and writes no answer")
    return 0


def _status_line(job: "JobStatusView") -> str:
    attempts = f"{job.attempts} attempt{'s' if job.attempts != 1 else ''}"
    line = f"job {job.job_id}: {job.status.value} ({job.kind}, {attempts}, created {job.created_at})"
    if job.cancel_requested and not job.status.is_terminal:
        line += "; stop requested"
    if job.retry_at and job.status is JobStatus.QUEUED:
        line += f"; last attempt failed ({job.last_error}), next at {job.retry_at}"
    return f"{line}; {job.error}" if job.error else line


def _print_result(outcome: "ResultView | DocumentResultView", as_json: bool) -> int:
    from ragcore.api_schema import ResultView

    if as_json:
        _print_json(outcome.model_dump(mode="json"))
    elif isinstance(outcome, ResultView):
        print_answer(outcome)
    else:
        chunks = f", {outcome.chunks} chunks" if outcome.chunks is not None else ""
        print(f"{outcome.kind} job {outcome.job_id}: {outcome.action} document {outcome.document_id!r} "
              f"in {outcome.collection!r}{chunks}")
    return 0


def print_answer(answer: "ResultView") -> None:
    """The answer and what the citation check found, then its sources numbered as the answer
    cites them."""
    print(answer.answer)
    for note in answer_notes(answer):
        print(f"  {note}")
    if answer.sources:
        print()
    for source in answer.sources:
        print(source_line(source))


def source_line(source: Source) -> str:
    """``[n] title (file, score)``; a document sent without a ``source`` shows its score only."""
    where = ", ".join(part for part in (source.source, f"score {source.score:.2f}") if part)
    return f"[{source.n}] {source.title} ({where})"


_METHODS = {
    "rephrased": "a source sentence, reworded by the model and checked",
    "quoted": "quoted from the sources",
}


def answer_notes(answer: "ResultView") -> list[str]:
    """Sentences no source supports, flagged; and how the answer was made, unless the model wrote it."""
    notes = [f"! not supported by the sources: {s.text}"
             for s in answer.sentences if s.claim and not s.supported]
    if answer.method in _METHODS:
        notes.append(f"({_METHODS[answer.method]})")
    return notes


def _print_json(document: dict[str, Any]) -> None:
    print(json.dumps(document, indent=2, ensure_ascii=False))

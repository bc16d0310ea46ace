"""``ragcore ask --file questions.jsonl``: a file of questions through the API's batch calls.

Each line of the file is a ``POST /chat`` body as JSON (``{"query": ...}`` and any of its other
fields; the command's ``--collection``, ``--top-k`` and ``--mode`` fill those a line leaves out).
The questions go ``MAX_BATCH`` (100) to a ``POST /chat/batch``; their jobs are followed with
``GET /jobs``, 100 ids a call, and each answer is fetched once, when its job is final. Questions
the key's rate limit refused are sent again when the API says (``retry_after``), within the
timeout. One JSON line per question comes out, in the file's order: its job, its status, and
its result or its error.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, TextIO

from tqdm import tqdm

from ragcore.api_schema import MAX_BATCH, BatchQueued, ErrorInfo
from ragcore.domain.jobs import JobStatus

if TYPE_CHECKING:
    from ragcore.client import ApiError, Client

# Refusals of one question that pass: sent again after their retry_after (or this).
_PASSING = {"rate_limited", "dependency_unavailable"}
_RESEND_AFTER = 2.0
GONE = {"refused", "not_found"}  # final without a job to follow
_POLL_EVERY = 1.0


@dataclass
class Question:
    """One line of the file and what became of it."""

    line: int
    body: dict[str, Any] | None  # None: the line is not a question
    job_id: str | None = None
    status: str = "unsent"  # a job's status, "refused", or "not_found" (its job expired or was never seen)
    result: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    resend_at: float = 0.0  # a refusal that passes: sent again from then

    @property
    def final(self) -> bool:
        if self.status in GONE:
            return True
        return self.job_id is not None and JobStatus(self.status).is_terminal

    def record(self) -> dict[str, Any]:
        query = (self.body or {}).get("query")
        return {"line": self.line, "query": query, "job_id": self.job_id, "status": self.status,
                **({"result": self.result} if self.result is not None else {}),
                **({"error": self.error} if self.error is not None else {})}


def read_questions(path: Path, defaults: dict[str, Any]) -> list[Question]:
    """Every non-blank line, a question or (not a JSON object) refused at once."""
    questions = []
    for number, text in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not text.strip():
            continue
        try:
            body = json.loads(text)
        except json.JSONDecodeError as exc:
            body, problem = None, f"not JSON: {exc.msg}"
        else:
            problem = "" if isinstance(body, dict) else "not a JSON object"
        if problem:
            questions.append(Question(number, None, status="refused",
                                      error={"code": "invalid_line", "message": f"line {number} is {problem}"}))
        else:
            questions.append(Question(number, {**defaults, **body}))
    return questions


def ask_file(client: "Client", questions: list[Question], timeout: float, progress: TextIO) -> None:
    """Submits and follows every question until each is final or ``timeout`` seconds passed;
    the progress bar (on a terminal only) counts the final ones."""
    deadline = time.monotonic() + timeout
    with tqdm(total=len(questions), unit="q", desc="answered", file=progress,
              disable=not progress.isatty()) as bar:
        bar.update(sum(q.status == "refused" for q in questions))
        while time.monotonic() < deadline:
            now = time.monotonic()
            _submit(client, [q for q in questions if q.status == "unsent" and q.resend_at <= now], bar)
            _follow(client, [q for q in questions if q.job_id and not q.final], bar)
            if all(q.final for q in questions):
                break
            time.sleep(_POLL_EVERY)


def _submit(client: "Client", unsent: list[Question], bar: tqdm) -> None:
    from ragcore.client import ApiError

    for chunk in _chunks(unsent, MAX_BATCH):
        try:
            accepted = client.submit_batch([q.body or {} for q in chunk])
        except ApiError as exc:
            if not any(d.field.startswith("questions.") for d in exc.details):
                raise  # the request's own refusal (its key, say), not its questions'
            _none_queued(chunk, exc, bar)  # every question refused, each named in details
            continue
        for item in accepted.items:
            question = chunk[item.index]
            if isinstance(item, BatchQueued):
                question.job_id, question.status, question.error = item.job_id, item.status.value, None
            else:
                _refused(question, item.error, bar)


def _none_queued(chunk: list[Question], exc: "ApiError", bar: tqdm) -> None:
    """The batch's error when none of its questions was queued: ``details`` says each one's
    problem by its index (``questions.<index>...``)."""
    for index, question in enumerate(chunk):
        mine = [d for d in exc.details if d.field == f"questions.{index}" or d.field.startswith(f"questions.{index}.")]
        error = ErrorInfo(code=exc.code, message=mine[0].problem if mine else exc.message, details=mine or None)
        _refused(question, error, bar)


def _refused(question: Question, error: ErrorInfo, bar: tqdm) -> None:
    if error.code in _PASSING:  # sent again with the next round after its wait
        wait = (error.model_extra or {}).get("retry_after") or _RESEND_AFTER
        question.resend_at = time.monotonic() + float(wait)
        question.error = error.model_dump(exclude_none=True)
        return
    question.status, question.error = "refused", error.model_dump(exclude_none=True)
    bar.update(1)


def _follow(client: "Client", running: list[Question], bar: tqdm) -> None:
    by_id = {q.job_id: q for q in running}
    for chunk in _chunks(list(by_id), MAX_BATCH):
        statuses = client.statuses(chunk)
        for job_id in statuses.not_found:  # expired (or removed): nothing will ever answer it
            question = by_id[job_id]
            question.status = "not_found"
            question.error = {"code": "job_not_found", "message": f"job {job_id} is gone (expired?)"}
            bar.update(1)
        for job in statuses.jobs:
            question = by_id[job.job_id]
            question.status = job.status.value
            if job.status is JobStatus.FINISHED:  # its result is there: fetched once
                question.result, question.error = client.result(job.job_id).model_dump(mode="json"), None
            elif job.status.is_terminal:
                question.error = {"code": f"job_{job.status.value}", "message": job.error or job.status.value}
            if job.status.is_terminal:
                bar.update(1)


def _chunks(items: list, size: int) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def write_results(questions: list[Question], out: TextIO) -> None:
    for question in questions:
        out.write(json.dumps(question.record(), ensure_ascii=False) + "\n")


def summary(questions: list[Question]) -> str:
    counts: dict[str, int] = {}
    for question in questions:
        counts[question.status] = counts.get(question.status, 0) + 1
    parts = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
    return f"{len(questions)} questions: {parts}"

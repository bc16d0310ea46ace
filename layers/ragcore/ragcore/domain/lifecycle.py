"""The job lifecycle: every transition declared once, and the pure function that applies one.

A ``Rule`` names the statuses a transition may start from, the status it leads to, the guards
that may refuse it and its effects. The Valkey adapter sends a rule to one generic script
that checks and applies it atomically (``adapters/valkey_jobs.py``); the in-memory fake
applies it with ``apply``; the job store contract suite
(``tests/integration/test_job_store_contract.py``) holds both to the same answers.

Every transition answers with an ``Outcome`` (what it did) and the job as it stands after it,
so no caller reads the job again to learn its new status, attempt or times.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from ragcore.domain.jobs import Job, JobStatus

QUEUED, STARTED, FINISHED, FAILED, STOPPED = JobStatus

OVERDUE_ERROR = (
    "the job was not finished by its deadline: the worker running it stopped responding and "
    "its retries ran out"
)
CANCELLED_ERROR = "stopped on request"


class Outcome(StrEnum):
    """What one transition did."""

    APPLIED = "applied"  # the job moved as the rule says
    CANCELLED = "cancelled"  # a cancel had been requested: the job ended stopped instead
    MISSING = "missing"  # no record (expired, or never written)
    REFUSED = "refused"  # not from the job's status (final, say), or a job not yet overdue
    STALE = "stale"  # the caller's attempt no longer owns the job: another re-claimed it
    BUSY = "busy"  # a live lease holds the job: a worker is on it now


@dataclass(frozen=True)
class Rule:
    """One transition. Guards are checked in the order below, once the source is allowed;
    the first that fails names the outcome. A status not in ``sources`` passes the job to
    ``otherwise``, if any (one request, two moves: cancel a queued job or flag a started one)."""

    name: str
    sources: frozenset[JobStatus]
    target: JobStatus
    # Guards
    owned: bool = False  # the caller's attempt must be the job's: else STALE
    unheld: bool = False  # no live lease may hold the job: else BUSY
    overdue: bool = False  # only past the job's deadline: else REFUSED
    # Effects (a final target also stamps ``finished_at`` and clears ``retry_at`` and the partial answer)
    cancel_wins: bool = False  # a requested cancel ends the job STOPPED instead: CANCELLED
    leases: bool = False  # attempts + 1, a lease of the caller's seconds, ``started_at`` now, no partial answer
    releases: bool = False  # the lease is given back: the next delivery may claim at once; no partial answer
    flags_cancel: bool = False  # ``cancel_requested``: the worker stops at its next step
    # A fresh run: attempts from 0, the last run's fields cleared, ``queued_at`` now, a new TTL.
    renews: bool = False
    error: str | None = None  # the error it records (else the caller's, if it gives one)
    otherwise: Rule | None = None


# A worker takes the job: a queued one, or a started one whose worker died (its lease ran out).
CLAIM = Rule("claim", frozenset({QUEUED, STARTED}), STARTED, unheld=True, leases=True)
# The attempt that owns the job records its result; a cancel requested meanwhile drops it.
FINISH = Rule("finish", frozenset({STARTED}), FINISHED, owned=True, cancel_wins=True)
# A permanent failure, or a transient one on the last delivery. From QUEUED too: the attempt
# that handed the job back (``RETRY_LATER``) still owns it until the next claim.
FAIL = Rule("fail", frozenset({QUEUED, STARTED}), FAILED, owned=True, cancel_wins=True)
# A transient failure: the job waits for its message's next delivery. From QUEUED too, for
# the same attempt: a repeat of this call whose reply was lost.
RETRY_LATER = Rule("retry later", frozenset({STARTED, QUEUED}), QUEUED, owned=True, cancel_wins=True,
                   releases=True)
# The worker found the cancel flag at a step boundary and stops there.
HONOUR_CANCEL = Rule("honour cancel", frozenset({QUEUED, STARTED}), STOPPED, owned=True,
                     error=CANCELLED_ERROR)
# A client's cancel: a queued job stops at once; a started one is flagged, for its worker.
REQUEST_CANCEL = Rule(
    "request cancel", frozenset({QUEUED}), STOPPED, error=CANCELLED_ERROR,
    otherwise=Rule("flag cancel", frozenset({STARTED}), STARTED, flags_cancel=True),
)
# Past its deadline and held by no live lease: nothing will run the job any more.
FAIL_OVERDUE = Rule("fail overdue", frozenset({QUEUED, STARTED}), FAILED, unheld=True, overdue=True,
                    cancel_wins=True, error=OVERDUE_ERROR)
# The dead-letter redrive (``ragcore dlq redrive``): a failed job, or one a lost message left
# queued or started (its lease expired), runs again from the start.
REQUEUE = Rule("requeue", frozenset({FAILED, QUEUED, STARTED}), QUEUED, unheld=True, cancel_wins=True,
               renews=True)

RULES = (CLAIM, FINISH, FAIL, RETRY_LATER, HONOUR_CANCEL, REQUEST_CANCEL, FAIL_OVERDUE, REQUEUE)


@dataclass(frozen=True)
class Transition:
    """What a transition did, and the job as it stands after it (None: there is no job)."""

    outcome: Outcome
    job: Job | None = None

    @property
    def status(self) -> JobStatus | None:
        return self.job.status if self.job is not None else None

    @property
    def attempt(self) -> int:
        """The attempt that owns the job now (a claim's is the caller's to name later)."""
        return self.job.attempts if self.job is not None else 0

    @property
    def moved(self) -> bool:
        return self.outcome in (Outcome.APPLIED, Outcome.CANCELLED)

    @property
    def ended(self) -> bool:
        """This very call made the job final: of racing calls, one only (each end counted once)."""
        return self.moved and self.job is not None and self.job.status.is_terminal


def held(job: Job, now: float) -> bool:
    """A live lease: a worker is on the job now (a dead worker's lease runs out)."""
    return job.status is STARTED and (job.lease_until or 0) > now


def overdue(job: Job, now: float) -> bool:
    return job.deadline_at is not None and job.deadline_at <= now


def effects(rule: Rule, now: float, values: dict[str, Any] | None = None) -> dict[str, Any]:
    """The fields ``rule`` writes when it applies (``values``: the caller's, e.g. the error),
    besides the attempt count and the lease's end: those depend on the record, and in Valkey
    on the server's clock."""
    fields: dict[str, Any] = {"status": rule.target}
    if rule.renews:
        fields |= {"attempts": 0, "error": None, "started_at": None, "finished_at": None, "lease_until": None,
                   "last_error": None, "retry_at": None, "queued_at": now, "partial_answer": None}
    if rule.leases:  # a new attempt streams its answer from the start
        fields |= {"started_at": now, "retry_at": None, "partial_answer": None}
    if rule.releases:
        fields |= {"lease_until": None, "partial_answer": None}
    if rule.flags_cancel:
        fields["cancel_requested"] = True
    if rule.target.is_terminal:
        # A final job has no next attempt, and its result (or error) replaces the partial answer.
        fields |= {"finished_at": now, "retry_at": None, "partial_answer": None}
    if rule.error is not None:
        fields["error"] = rule.error
    return fields | (values or {})


def refusal(rule: Rule, job: Job, now: float, attempt: int | None = None) -> Outcome | None:
    """Why ``rule`` may not apply to ``job`` now; None if it may."""
    if job.status not in rule.sources:
        return Outcome.REFUSED
    if rule.owned and attempt != job.attempts:
        return Outcome.STALE
    if rule.unheld and held(job, now):
        return Outcome.BUSY
    if rule.overdue and not overdue(job, now):
        return Outcome.REFUSED
    return None


def apply(
    rule: Rule, job: Job | None, now: float, *, attempt: int | None = None, lease_seconds: float = 0,
    values: dict[str, Any] | None = None,
) -> Transition:
    """``rule`` applied to ``job`` (a record: a new one is returned, ``job`` is not changed)."""
    if job is None:
        return Transition(Outcome.MISSING)
    while job.status not in rule.sources and rule.otherwise is not None:
        rule = rule.otherwise
    refused = refusal(rule, job, now, attempt)
    if refused is not None:
        return Transition(refused, job)
    if rule.cancel_wins and job.cancel_requested:
        return Transition(Outcome.CANCELLED, job.model_copy(update=effects(HONOUR_CANCEL, now)))
    update = effects(rule, now, values)
    if rule.leases:
        update |= {"attempts": job.attempts + 1, "lease_until": now + lease_seconds}
    return Transition(Outcome.APPLIED, job.model_copy(update=update))


class RuleStore:
    """The job store's transitions by name (``ports.JobStore``), each the one rule it applies.
    A store supplies only ``_apply``, atomically, so the Valkey adapter and the in-memory fake
    cannot map a name to different rules or arguments."""

    def _apply(
        self, rule: Rule, job_id: str, *, attempt: int | None = None, lease_seconds: int | None = None,
        values: dict[str, Any] | None = None, result: dict | None = None,
    ) -> Transition:
        """``result``: a finished job's answer, kept only if ``rule`` applies (not if a cancel wins)."""
        raise NotImplementedError

    def claim(self, job_id: str, lease_seconds: int) -> Transition:
        return self._apply(CLAIM, job_id, lease_seconds=lease_seconds)

    def finish(self, job_id: str, attempt: int, result: dict) -> Transition:
        return self._apply(FINISH, job_id, attempt=attempt, result=result)

    def fail(self, job_id: str, attempt: int, error: str) -> Transition:
        return self._apply(FAIL, job_id, attempt=attempt, values={"error": error})

    def honour_cancel(self, job_id: str, attempt: int) -> Transition:
        return self._apply(HONOUR_CANCEL, job_id, attempt=attempt)

    def retry_later(self, job_id: str, attempt: int, error: str, retry_at: float) -> Transition:
        return self._apply(RETRY_LATER, job_id, attempt=attempt, values={"last_error": error, "retry_at": retry_at})

    def fail_overdue(self, job_id: str) -> Transition:
        return self._apply(FAIL_OVERDUE, job_id)

    def request_cancel(self, job_id: str) -> Transition:
        return self._apply(REQUEST_CANCEL, job_id)

    def requeue(self, job_id: str, deadline_at: float) -> Transition:
        return self._apply(REQUEUE, job_id, values={"deadline_at": deadline_at})

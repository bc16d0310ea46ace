"""Job records in Valkey, one hash per job, with every status change done by one Lua script.

A script runs atomically on the server, so two workers holding the same message cannot both
claim a job, and a late worker cannot overwrite a job that has moved on. The allowed source
statuses come from ``domain.jobs.TRANSITIONS``; the script only checks and applies them.
"""

from __future__ import annotations

import json
import time
from typing import Any

from ragcore.adapters.valkey_client import valkey_errors
from ragcore.domain.errors import JobNotFoundError
from ragcore.domain.job_kinds import JobKind
from ragcore.domain.jobs import OVERDUE_ERROR, STOPPED_ERROR, TRANSITIONS, Job, JobStatus
from ragcore.ports import Claim, ClaimOutcome, StopRequest

_TRANSITION_LUA = """
local spec = cjson.decode(ARGV[1])
-- Leases and deadlines are compared with the server's clock, so workers whose clocks
-- disagree still agree on them (a deadline is written by the API, from its own clock).
local time = redis.call('TIME')
local now = tonumber(time[1]) + tonumber(time[2]) / 1000000
local current = redis.call('HGET', KEYS[1], 'status')
if not current then return {'missing', '', 0} end
local attempts = tonumber(redis.call('HGET', KEYS[1], 'attempts') or '0')
local allowed = false
for _, s in ipairs(spec.allowed_from) do if s == current then allowed = true end end
-- Not allowed from here: the job is terminal or in a state this step cannot leave.
if not allowed then return {'refused', current, attempts} end
-- A write from an attempt that no longer owns the job (its lease ran out and another
-- worker re-claimed it) is dropped, so only the owner records a result.
if spec.attempt and spec.attempt ~= attempts then return {'stale', current, attempts} end
-- A live lease means a worker is on the job now; only an expired one may be re-claimed
-- (the worker that held it is presumed dead).
local lease = tonumber(redis.call('HGET', KEYS[1], 'lease_until') or '0')
local held = current == 'started' and lease > now
if held and (spec.lease_seconds or spec.refuse_if_held) then return {'busy', current, attempts} end
if spec.only_if_overdue then
  local deadline = tonumber(redis.call('HGET', KEYS[1], 'deadline_at') or '')
  if deadline == nil or deadline > now or held then return {'refused', current, attempts} end
end
-- Once a stop was requested, the job ends stopped, whatever this step meant to record.
if spec.stop_if_cancelled and redis.call('HGET', KEYS[1], 'cancel_requested') == '1' then
  redis.call('HSET', KEYS[1], 'status', 'stopped', 'error', spec.stopped_error,
             'finished_at', tostring(now))
  return {'stopped', 'stopped', attempts}
end
if spec.lease_seconds then
  attempts = redis.call('HINCRBY', KEYS[1], 'attempts', 1)
  redis.call('HSET', KEYS[1], 'lease_until', tostring(now + spec.lease_seconds))
end
redis.call('HSET', KEYS[1], 'status', spec.target)
for field, value in pairs(spec.set) do redis.call('HSET', KEYS[1], field, value) end
if spec.ttl then redis.call('EXPIRE', KEYS[1], spec.ttl) end
return {'ok', spec.target, attempts}
"""

# A new record and its expiry in one step (a script, not MULTI: the cluster client has none).
_CREATE_LUA = """
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
redis.call('EXPIRE', KEYS[1], ARGV[1])
"""

JOB_KEY_PREFIX = "ragcore:job:"  # + the job id: one hash per job
# The hash's fields that make a ``Job`` (``job_from_fields``); the answer is in RESULT_FIELD.
# ``adapters/valkey_job_records.py`` reads the same ones.
STATUS_FIELDS = (
    "job_id", "kind", "status", "created_at", "started_at", "finished_at", "attempts", "error",
    "request", "deadline_at", "cancel_requested", "owner", "queued_at", "last_error", "retry_at",
)
RESULT_FIELD = "result"


def job_from_fields(record: dict[str, str | None]) -> Job | None:
    """The job a hash's STATUS_FIELDS describe; None if there is no such hash (or it expired
    between a scan and a read)."""
    if not record.get("status") or not record.get("created_at"):
        return None
    return Job(
        job_id=record["job_id"] or "",
        kind=record["kind"] or JobKind.CHAT,  # records from before kinds were chat
        status=JobStatus(record["status"]),
        created_at=float(record["created_at"] or 0),
        started_at=_float_or_none(record["started_at"]),
        finished_at=_float_or_none(record["finished_at"]),
        attempts=int(record["attempts"] or 0),
        error=record["error"] or None,
        request=json.loads(record["request"] or "{}"),
        deadline_at=_float_or_none(record["deadline_at"]),
        cancel_requested=record["cancel_requested"] == "1",
        owner=record["owner"],
        queued_at=_float_or_none(record.get("queued_at")),
        last_error=record.get("last_error") or None,
        retry_at=_float_or_none(record.get("retry_at")),
    )


def _sources_of(target: JobStatus) -> list[str]:
    return [s.value for s, targets in TRANSITIONS.items() if target in targets]


class ValkeyJobStore:
    """Implements ``ports.JobStore``."""

    def __init__(self, client: Any, ttl_seconds: int, prefix: str = JOB_KEY_PREFIX) -> None:
        """``client``: ``valkey.Valkey`` or ``valkey.cluster.ValkeyCluster``; every key a
        command or script names is one job's hash."""
        self._client = client
        self._ttl = ttl_seconds
        self._prefix = prefix
        self._transition = client.register_script(_TRANSITION_LUA)
        self._create = client.register_script(_CREATE_LUA)

    def _key(self, job_id: str) -> str:
        return f"{self._prefix}{job_id}"

    def ping(self) -> None:
        with valkey_errors():
            self._client.ping()

    def create(self, job: Job) -> None:
        fields = {
            "job_id": job.job_id,
            "kind": job.kind,
            "status": job.status.value,
            "created_at": repr(job.created_at),
            "attempts": job.attempts,
            "request": json.dumps(job.request),
        }
        if job.deadline_at is not None:
            fields["deadline_at"] = repr(job.deadline_at)
        if job.owner is not None:
            fields["owner"] = job.owner
        args = [self._ttl, *(str(v) for pair in fields.items() for v in pair)]
        with valkey_errors():
            self._create(keys=[self._key(job.job_id)], args=args)

    def get(self, job_id: str) -> Job:
        with valkey_errors():
            values = self._client.hmget(self._key(job_id), STATUS_FIELDS)
        job = job_from_fields(dict(zip(STATUS_FIELDS, values)))
        if job is None:
            raise JobNotFoundError(job_id)
        return job

    def get_result(self, job_id: str) -> dict | None:
        with valkey_errors():
            raw = self._client.hget(self._key(job_id), RESULT_FIELD)
        return json.loads(raw) if raw else None

    def delete(self, job_id: str) -> None:
        with valkey_errors():
            self._client.delete(self._key(job_id))

    def claim(self, job_id: str, lease_seconds: int) -> Claim:
        outcome, _, attempts = self._run(
            job_id, JobStatus.STARTED, set={"started_at": repr(time.time()), "retry_at": ""},
            lease_seconds=lease_seconds,
        )
        return Claim(_CLAIM_OUTCOMES[outcome], attempts)

    def finish(self, job_id: str, attempt: int, result: dict) -> JobStatus | None:
        return self._end(
            job_id, JobStatus.FINISHED, {RESULT_FIELD: json.dumps(result)}, attempt=attempt, stop_if_cancelled=True
        )

    def fail(self, job_id: str, attempt: int, error: str) -> JobStatus | None:
        return self._end(job_id, JobStatus.FAILED, {"error": error}, attempt=attempt, stop_if_cancelled=True)

    def stop(self, job_id: str, attempt: int) -> bool:
        return self._end(job_id, JobStatus.STOPPED, {"error": STOPPED_ERROR}, attempt=attempt) is not None

    def retry_later(self, job_id: str, attempt: int, error: str, retry_at: float) -> JobStatus | None:
        # From QUEUED too, for the same attempt: a repeat of this call whose reply was lost.
        outcome, status, _ = self._run(
            job_id, JobStatus.QUEUED, allowed_from=[JobStatus.STARTED, JobStatus.QUEUED], attempt=attempt,
            stop_if_cancelled=True, set={"last_error": error, "retry_at": repr(retry_at), "lease_until": "0"},
        )
        return JobStatus(status) if outcome in ("ok", "stopped") else None

    def fail_if_overdue(self, job_id: str) -> JobStatus | None:
        return self._end(
            job_id, JobStatus.FAILED, {"error": OVERDUE_ERROR}, only_if_overdue=True, stop_if_cancelled=True
        )

    def request_stop(self, job_id: str) -> StopRequest:
        outcome, current, _ = self._run(
            job_id, JobStatus.STOPPED, allowed_from=[JobStatus.QUEUED],
            set={"finished_at": repr(time.time()), "error": STOPPED_ERROR, "retry_at": ""},
        )
        if outcome == "ok":  # the script moved it QUEUED -> STOPPED: this call stopped it
            return StopRequest(JobStatus.STOPPED, stopped=True)
        if outcome == "refused" and current == JobStatus.STARTED:
            # Flag it; the worker stops at its next step boundary, and a late result is dropped.
            outcome, current, _ = self._run(
                job_id, JobStatus.STARTED, allowed_from=[JobStatus.STARTED], set={"cancel_requested": "1"}
            )
        if outcome == "missing":
            raise JobNotFoundError(job_id)
        return StopRequest(JobStatus(current))

    def cancel_requested(self, job_id: str) -> bool:
        with valkey_errors():
            return self._client.hget(self._key(job_id), "cancel_requested") == "1"

    def requeue(self, job_id: str, deadline_at: float) -> JobStatus | None:
        # A fresh record in all but id and request: attempts from 0, a new deadline and TTL.
        fields = {"attempts": "0", "error": "", "started_at": "", "finished_at": "", "lease_until": "0",
                  "deadline_at": repr(deadline_at), "queued_at": repr(time.time()), "last_error": "",
                  "retry_at": ""}
        outcome, status, _ = self._run(
            job_id, JobStatus.QUEUED, set=fields,
            allowed_from=[JobStatus.FAILED, JobStatus.QUEUED, JobStatus.STARTED],
            refuse_if_held=True, stop_if_cancelled=True, ttl=self._ttl,
        )
        return JobStatus(status) if outcome in ("ok", "stopped") else None

    def _end(
        self, job_id: str, target: JobStatus, fields: dict[str, str], *, attempt: int | None = None,
        only_if_overdue: bool = False, stop_if_cancelled: bool = False,
    ) -> JobStatus | None:
        """The status reached (``target``, or STOPPED if a stop was requested and
        ``stop_if_cancelled``), or None if the job was not in a state to end this way."""
        outcome, status, _ = self._run(  # a final job has no next attempt
            job_id, target, set={"finished_at": repr(time.time()), "retry_at": "", **fields}, attempt=attempt,
            only_if_overdue=only_if_overdue, stop_if_cancelled=stop_if_cancelled,
        )
        return JobStatus(status) if outcome in ("ok", "stopped") else None

    def _run(
        self,
        job_id: str,
        target: JobStatus,
        *,
        set: dict[str, str],
        allowed_from: list[JobStatus] | None = None,
        attempt: int | None = None,
        lease_seconds: int | None = None,
        refuse_if_held: bool = False,
        only_if_overdue: bool = False,
        stop_if_cancelled: bool = False,
        ttl: int | None = None,
    ) -> tuple[str, str, int]:
        """One run of the transition script; the keyword arguments are its optional checks."""
        spec: dict[str, Any] = {
            "target": target.value,
            "allowed_from": [s.value for s in allowed_from] if allowed_from else _sources_of(target),
            "set": set,
            "refuse_if_held": refuse_if_held,
            "only_if_overdue": only_if_overdue,
            "stop_if_cancelled": stop_if_cancelled,
            "stopped_error": STOPPED_ERROR,
        }
        for name, value in (("attempt", attempt), ("lease_seconds", lease_seconds), ("ttl", ttl)):
            if value is not None:
                spec[name] = value
        with valkey_errors():
            outcome, current, attempts = self._transition(keys=[self._key(job_id)], args=[json.dumps(spec)])
        return outcome, current, int(attempts)


_CLAIM_OUTCOMES = {
    "ok": ClaimOutcome.CLAIMED,
    "missing": ClaimOutcome.MISSING,
    "busy": ClaimOutcome.IN_PROGRESS,
    "refused": ClaimOutcome.ALREADY_DONE,  # terminal: nothing left to run
}


def _float_or_none(value: str | None) -> float | None:
    return float(value) if value else None

"""Job records in Valkey, one hash per job, with every status change done by one Lua script.

A script runs atomically on the server, so two workers holding the same message cannot both
claim a job, and a late worker cannot overwrite a job that has moved on. The allowed source
statuses come from ``domain.jobs.TRANSITIONS``; the script only checks and applies them.
"""

from __future__ import annotations

import json
import time

import valkey

from ragcore.adapters.valkey_client import connect, valkey_errors
from ragcore.domain.errors import JobNotFoundError
from ragcore.domain.jobs import TRANSITIONS, Job, JobStatus
from ragcore.ports import Claim, ClaimOutcome

_TRANSITION_LUA = """
local spec = cjson.decode(ARGV[1])
-- Leases use the server's clock, so workers whose clocks disagree still agree on expiry.
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
-- Re-claiming a started job is allowed only once its lease has expired: the worker that
-- held it is presumed dead. A live lease means someone is working on it now.
if spec.lease_seconds and current == 'started' then
  local lease = tonumber(redis.call('HGET', KEYS[1], 'lease_until') or '0')
  if lease > now then return {'busy', current, attempts} end
end
if spec.lease_seconds then
  attempts = redis.call('HINCRBY', KEYS[1], 'attempts', 1)
  redis.call('HSET', KEYS[1], 'lease_until', tostring(now + spec.lease_seconds))
end
redis.call('HSET', KEYS[1], 'status', spec.target)
for field, value in pairs(spec.set) do redis.call('HSET', KEYS[1], field, value) end
return {'ok', spec.target, attempts}
"""

_STATUS_FIELDS = (
    "job_id", "kind", "status", "created_at", "started_at", "finished_at", "attempts", "error",
    "request",
)


def _sources_of(target: JobStatus) -> list[str]:
    return [s.value for s, targets in TRANSITIONS.items() if target in targets]


class ValkeyJobStore:
    """Implements ``ports.JobStore``."""

    def __init__(self, client: valkey.Valkey, ttl_seconds: int, prefix: str = "ragcore:job:") -> None:
        self._client = client
        self._ttl = ttl_seconds
        self._prefix = prefix
        self._transition = client.register_script(_TRANSITION_LUA)

    @classmethod
    def from_url(cls, url: str, ttl_seconds: int, timeout_seconds: float) -> "ValkeyJobStore":
        return cls(connect(url, timeout_seconds), ttl_seconds)

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
        with valkey_errors():
            pipe = self._client.pipeline(transaction=True)
            pipe.hset(self._key(job.job_id), mapping=fields)
            pipe.expire(self._key(job.job_id), self._ttl)
            pipe.execute()

    def get(self, job_id: str) -> Job:
        with valkey_errors():
            values = self._client.hmget(self._key(job_id), _STATUS_FIELDS)
        record = dict(zip(_STATUS_FIELDS, values))
        if record["status"] is None:
            raise JobNotFoundError(job_id)
        return Job(
            job_id=record["job_id"],
            kind=record["kind"],
            status=JobStatus(record["status"]),
            created_at=float(record["created_at"]),
            started_at=_float_or_none(record["started_at"]),
            finished_at=_float_or_none(record["finished_at"]),
            attempts=int(record["attempts"] or 0),
            error=record["error"] or None,
            request=json.loads(record["request"] or "{}"),
        )

    def get_result(self, job_id: str) -> dict | None:
        with valkey_errors():
            raw = self._client.hget(self._key(job_id), "result")
        return json.loads(raw) if raw else None

    def delete(self, job_id: str) -> None:
        with valkey_errors():
            self._client.delete(self._key(job_id))

    def claim(self, job_id: str, lease_seconds: int) -> Claim:
        outcome, _, attempts = self._run(
            job_id, JobStatus.STARTED, lease_seconds=lease_seconds, set={"started_at": repr(time.time())}
        )
        if outcome == "ok":
            return Claim(ClaimOutcome.CLAIMED, int(attempts))
        if outcome == "missing":
            return Claim(ClaimOutcome.MISSING)
        if outcome == "busy":
            return Claim(ClaimOutcome.IN_PROGRESS, int(attempts))
        return Claim(ClaimOutcome.ALREADY_DONE, int(attempts))

    def finish(self, job_id: str, attempt: int, result: dict) -> bool:
        outcome, _, _ = self._run(
            job_id,
            JobStatus.FINISHED,
            attempt=attempt,
            set={"finished_at": repr(time.time()), "result": json.dumps(result)},
        )
        return outcome == "ok"

    def fail(self, job_id: str, attempt: int, error: str) -> bool:
        outcome, _, _ = self._run(
            job_id,
            JobStatus.FAILED,
            attempt=attempt,
            set={"finished_at": repr(time.time()), "error": error},
        )
        return outcome == "ok"

    def _run(
        self,
        job_id: str,
        target: JobStatus,
        *,
        set: dict[str, str],
        attempt: int | None = None,
        lease_seconds: int | None = None,
    ) -> tuple[str, str, int]:
        spec = {
            "target": target.value,
            "allowed_from": _sources_of(target),
            "set": set,
        }
        if attempt is not None:
            spec["attempt"] = attempt
        if lease_seconds is not None:
            spec["lease_seconds"] = lease_seconds
        with valkey_errors():
            outcome, current, attempts = self._transition(keys=[self._key(job_id)], args=[json.dumps(spec)])
        return outcome, current, int(attempts)


def _float_or_none(value: str | None) -> float | None:
    return float(value) if value else None

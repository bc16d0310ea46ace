"""Job records in Valkey, one hash per job, every status change done by one generic Lua script.

A script runs atomically on the server, so two workers holding the same message cannot both
claim a job, and a late worker cannot overwrite a job that has moved on. The script knows no
transition of its own: it checks and applies the ``domain.lifecycle`` rule it is sent, as
``lifecycle.apply`` does for the in-memory fake, and answers with the job's fields after it.

Each job also has an event stream (``domain/job_events.py``), ``{<job key>}:events``: the
braces hash it to the job's slot, so the script that changes the job adds the event in the
same step, on a cluster too. It is capped at ``EVENTS_KEPT`` entries and expires with the job,
or ``EVENTS_KEPT_AFTER_END_SECONDS`` after the job ends if that is sooner.
"""

from __future__ import annotations

import json
import time
from functools import cache
from typing import Any, Iterator, Sequence

from ragcore.adapters.valkey_client import valkey_errors
from ragcore.domain.errors import JobNotFoundError
from ragcore.domain.job_events import EVENTS_KEPT, EVENTS_KEPT_AFTER_END_SECONDS, JobEvent
from ragcore.domain.job_kinds import JobKind
from ragcore.domain.jobs import TERMINAL, Job, JobStatus
from ragcore.domain.lifecycle import HONOUR_CANCEL, Outcome, Rule, RuleStore, Transition, effects

JOB_KEY_PREFIX = "ragcore:job:"  # + the job id: one hash per job
# The hash's fields that make a ``Job`` (``job_from_fields``); the answer is in RESULT_FIELD.
# ``adapters/valkey_job_records.py`` reads the same ones.
STATUS_FIELDS = (
    "job_id", "kind", "status", "created_at", "started_at", "finished_at", "attempts", "error",
    "request", "deadline_at", "cancel_requested", "owner", "queued_at", "last_error", "retry_at",
    "lease_until", "partial_answer",
)
RESULT_FIELD = "result"

# KEYS[2] in every script: the job's event stream. An event is added, the stream capped, and
# its expiry set to the job hash's own, or sooner once the job has ended (``final``).
_ADD_EVENT_LUA = """
local function add_event(type_, data, final)
  redis.call('XADD', KEYS[2], 'MAXLEN', %(kept)d, '*', 'type', type_, 'data', cjson.encode(data))
  local ttl = redis.call('PTTL', KEYS[1])
  if final and (ttl < 0 or ttl > %(after_end_ms)d) then ttl = %(after_end_ms)d end
  if ttl > 0 then redis.call('PEXPIRE', KEYS[2], ttl) end
end
""" % {"kept": EVENTS_KEPT, "after_end_ms": EVENTS_KEPT_AFTER_END_SECONDS * 1000}

# ARGV[1]: the rule (``_rule_json``) with the fields it writes, then the call's attempt, lease
# and TTL. The checks are ``lifecycle.refusal``'s, in its order. A change of status, or a new
# attempt's claim, adds a ``status`` event.
_TRANSITION_LUA = _ADD_EVENT_LUA + """
local call = cjson.decode(ARGV[1])
local key = KEYS[1]
-- Leases and deadlines are compared with the server's clock, so workers whose clocks
-- disagree still agree on them (a deadline is written by the API, from its own clock).
local time = redis.call('TIME')
local now = tonumber(time[1]) + tonumber(time[2]) / 1000000
local function answer(outcome)
  return {outcome, unpack(redis.call('HMGET', key, %(fields)s))}
end
local status = redis.call('HGET', key, 'status')
if not status then return {'missing'} end
local function from(rule)
  for _, s in ipairs(rule.sources) do if s == status then return true end end
  return false
end
local rule = call.rule
while not from(rule) and rule.otherwise do rule = rule.otherwise end
if not from(rule) then return answer('refused') end
local attempts = tonumber(redis.call('HGET', key, 'attempts') or '0')
if rule.owned and call.attempt ~= attempts then return answer('stale') end
if rule.unheld and status == 'started' then
  local lease = tonumber(redis.call('HGET', key, 'lease_until') or '') or 0
  if lease > now then return answer('busy') end
end
if rule.overdue then
  local deadline = tonumber(redis.call('HGET', key, 'deadline_at') or '')
  if deadline == nil or deadline > now then return answer('refused') end
end
local outcome, writes = 'applied', rule.writes
if rule.cancel_wins and redis.call('HGET', key, 'cancel_requested') == '1' then
  outcome, writes = 'cancelled', call.cancelled
elseif rule.leases then
  redis.call('HINCRBY', key, 'attempts', 1)
  redis.call('HSET', key, 'lease_until', tostring(now + call.lease_seconds))
end
local pairs_ = {}
for field, value in pairs(writes) do table.insert(pairs_, field); table.insert(pairs_, value) end
redis.call('HSET', key, unpack(pairs_))
if outcome == 'applied' and rule.renews then
  redis.call('EXPIRE', key, call.ttl)
  redis.call('EXPIRE', KEYS[2], call.ttl)
end
local now_status = redis.call('HGET', key, 'status')
if now_status ~= status or (outcome == 'applied' and rule.leases) then
  local final = ({%(terminal)s})[now_status] or false
  local attempt = tonumber(redis.call('HGET', key, 'attempts') or '0')
  add_event('status', {status = now_status, attempt = attempt}, final)
end
return answer(outcome)
""" % {"fields": ", ".join(f"'{f}'" for f in STATUS_FIELDS),
       "terminal": ", ".join(f"{s.value} = true" for s in sorted(TERMINAL))}

# A new record, its expiry and its first event in one step (a script, not MULTI: the cluster
# client has none). A job id is new, so its stream starts empty.
_CREATE_LUA = _ADD_EVENT_LUA + """
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
redis.call('EXPIRE', KEYS[1], ARGV[1])
add_event('status', {status = redis.call('HGET', KEYS[1], 'status'),
                     attempt = tonumber(redis.call('HGET', KEYS[1], 'attempts') or '0')})
"""

# ARGV: the attempt, the answer so far. Written only while that attempt holds the job started;
# the delta is what the text adds to the partial answer kept, its offset in code points (UTF-8
# bytes that do not continue a character), or the whole text from 0 if it does not extend it.
_WRITE_PARTIAL_LUA = _ADD_EVENT_LUA + """
local attempt, text = tonumber(ARGV[1]), ARGV[2]
if redis.call('HGET', KEYS[1], 'status') ~= 'started' then return 0 end
if tonumber(redis.call('HGET', KEYS[1], 'attempts') or '0') ~= attempt then return 0 end
local kept = redis.call('HGET', KEYS[1], 'partial_answer') or ''
if text == kept then return 1 end
local offset, added = 0, text
if string.sub(text, 1, #kept) == kept then
  offset = select(2, string.gsub(kept, '[^\\128-\\191]', ''))
  added = string.sub(text, #kept + 1)
end
redis.call('HSET', KEYS[1], 'partial_answer', text)
add_event('delta', {offset = offset, text = added, attempt = attempt})
return 1
"""

# A blocking read waits in slices, each well inside the client's socket timeout.
_BLOCK_SLICE_MS = 500

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
        lease_until=_float_or_none(record.get("lease_until")),
        partial_answer=record.get("partial_answer") or None,
    )


class ValkeyJobStore(RuleStore):
    """Implements ``ports.JobStore``: ``RuleStore`` names the transitions, ``_apply`` runs each."""

    def __init__(self, client: Any, ttl_seconds: int, prefix: str = JOB_KEY_PREFIX) -> None:
        """``client``: ``valkey.Valkey`` or ``valkey.cluster.ValkeyCluster``; every key a
        command or script names is one job's hash."""
        self._client = client
        self._ttl = ttl_seconds
        self._prefix = prefix
        self._transition = client.register_script(_TRANSITION_LUA)
        self._create = client.register_script(_CREATE_LUA)
        self._write_partial = client.register_script(_WRITE_PARTIAL_LUA)

    def _key(self, job_id: str) -> str:
        return f"{self._prefix}{job_id}"

    def _keys(self, job_id: str) -> list[str]:
        """The job's hash and its event stream, in one slot."""
        key = self._key(job_id)
        return [key, "{" + key + "}:events"]

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
            self._create(keys=self._keys(job.job_id), args=args)

    def get(self, job_id: str) -> Job:
        with valkey_errors():
            values = self._client.hmget(self._key(job_id), STATUS_FIELDS)
        job = job_from_fields(dict(zip(STATUS_FIELDS, values)))
        if job is None:
            raise JobNotFoundError(job_id)
        return job

    def get_many(self, job_ids: Sequence[str]) -> dict[str, Job]:
        """One HMGET per job in one pipeline: the cluster client splits it by node and sends
        each node its share at once, so every job is read in one round trip per node."""
        with valkey_errors():
            pipe = self._client.pipeline(transaction=False)
            for job_id in job_ids:
                pipe.hmget(self._key(job_id), STATUS_FIELDS)
            rows = pipe.execute()
        jobs = (job_from_fields(dict(zip(STATUS_FIELDS, values))) for values in rows)
        return {job.job_id: job for job in jobs if job is not None}

    def get_result(self, job_id: str) -> dict | None:
        with valkey_errors():
            raw = self._client.hget(self._key(job_id), RESULT_FIELD)
        return json.loads(raw) if raw else None

    def delete(self, job_id: str) -> None:
        with valkey_errors():
            self._client.delete(*self._keys(job_id))

    def cancel_requested(self, job_id: str) -> bool:
        with valkey_errors():
            return self._client.hget(self._key(job_id), "cancel_requested") == "1"

    def write_partial(self, job_id: str, attempt: int, text: str) -> bool:
        with valkey_errors():
            return bool(self._write_partial(keys=self._keys(job_id), args=[attempt, text]))

    def read_events(
        self, job_id: str, after: str | None, block_ms: int = 0, count: int = 100
    ) -> list[JobEvent]:
        """XREAD after ``after`` ("0-0": from the start); a long block is a loop of short ones."""
        stream = self._keys(job_id)[1]
        waited_until = time.monotonic() + block_ms / 1000
        while True:
            left_ms = int((waited_until - time.monotonic()) * 1000)
            block = min(left_ms, _BLOCK_SLICE_MS) if left_ms > 0 else None
            with valkey_errors():
                reply = self._client.xread({stream: after or "0-0"}, count=count, block=block)
            entries = _entries(reply)
            if entries or block is None:
                return [JobEvent(id=entry_id, type=fields["type"], data=json.loads(fields["data"]))
                        for entry_id, fields in entries]

    def _apply(
        self, rule: Rule, job_id: str, *, attempt: int | None = None, lease_seconds: int | None = None,
        values: dict[str, Any] | None = None, result: dict | None = None,
    ) -> Transition:
        """One run of the transition script: ``rule`` with what it writes, stamped now."""
        if result is not None:
            values = {**(values or {}), RESULT_FIELD: json.dumps(result)}
        now = time.time()
        call: dict[str, Any] = {"rule": _rule_json(rule, now, values), "attempt": attempt,
                                "lease_seconds": lease_seconds, "ttl": self._ttl}
        if any(step.cancel_wins for step in _chain(rule)):
            call["cancelled"] = _encoded(effects(HONOUR_CANCEL, now))
        with valkey_errors():
            reply = self._transition(keys=self._keys(job_id), args=[json.dumps(call)])
        job = job_from_fields(dict(zip(STATUS_FIELDS, reply[1:]))) if len(reply) > 1 else None
        return Transition(Outcome(reply[0]), job)


def _rule_json(rule: Rule, now: float, values: dict[str, Any] | None) -> dict[str, Any]:
    """What the script reads of a rule: its sources, guards and effects, and the fields it
    writes (``lifecycle.effects``) as the hash holds them."""
    return {
        "sources": [s.value for s in rule.sources],
        **_flags(rule),
        "writes": _encoded(effects(rule, now, values)),
        **({"otherwise": _rule_json(rule.otherwise, now, values)} if rule.otherwise else {}),
    }


# The rule's flags the script reads. Its other flags (``releases``, ``flags_cancel``) are
# effects only, written as fields (``lifecycle.effects``); tests/unit/test_valkey_jobs_script.py
# fails if a new flag is neither.
SCRIPT_FLAGS = ("owned", "unheld", "overdue", "cancel_wins", "leases", "renews")


@cache
def _flags(rule: Rule) -> dict[str, bool]:
    return {name: getattr(rule, name) for name in SCRIPT_FLAGS}


def _chain(rule: Rule | None) -> Iterator[Rule]:
    """``rule`` and the rules it passes a job on to (``Rule.otherwise``)."""
    while rule is not None:
        yield rule
        rule = rule.otherwise


def _encoded(fields: dict[str, Any]) -> dict[str, str]:
    """Values as the hash holds them: None as "" (unset), True as "1", times by ``repr``."""
    return {name: _encode(value) for name, value in fields.items()}


def _encode(value: Any) -> str:
    if value is None:
        return ""
    if value is True:
        return "1"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def _entries(reply: Any) -> list[tuple[str, dict[str, str]]]:
    """The entries of an XREAD reply, ``[[stream, entries]]`` (None: it timed out)."""
    return [entry for _, entries in reply or [] for entry in entries]


def _float_or_none(value: str | None) -> float | None:
    return float(value) if value else None

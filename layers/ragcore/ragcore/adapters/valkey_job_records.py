"""Every job record in Valkey, read for ``ragcore stats``: a SCAN over the job keys (on a
cluster, over every primary), each batch fetched in one pipeline (non-transactional, so the
cluster client splits it by node). Read-only, and never on a request's path."""

from __future__ import annotations

import json
import re
from typing import Any, Iterator

from ragcore.adapters.valkey_client import valkey_errors
from ragcore.adapters.valkey_jobs import JOB_KEY_PREFIX, RESULT_FIELD, STATUS_FIELDS, job_from_fields
from ragcore.domain.jobs import JobStatus
from ragcore.ports import JobRecord

_FIELDS = (*STATUS_FIELDS, RESULT_FIELD)
_BATCH = 500


class ValkeyJobRecords:
    """Implements ``ports.JobRecords``."""

    def __init__(self, client: Any, prefix: str = JOB_KEY_PREFIX) -> None:
        self._client = client
        self._prefix = prefix
        self._key = re.compile(re.escape(prefix) + r"[0-9a-f]{32}")  # job hashes only

    def scan(self) -> Iterator[JobRecord]:
        with valkey_errors():
            keys = [k for k in self._client.scan_iter(match=f"{self._prefix}*", count=_BATCH)
                    if self._key.fullmatch(k)]
            for start in range(0, len(keys), _BATCH):
                pipe = self._client.pipeline(transaction=False)
                for key in keys[start:start + _BATCH]:
                    pipe.hmget(key, _FIELDS)
                for values in pipe.execute():
                    record = _record(dict(zip(_FIELDS, values)))
                    if record is not None:
                        yield record


def _record(fields: dict[str, str | None]) -> JobRecord | None:
    job = job_from_fields(fields)
    if job is None:
        return None  # expired between the scan and the read
    timings = None
    if job.status is JobStatus.FINISHED and fields[RESULT_FIELD]:
        found = json.loads(fields[RESULT_FIELD]).get("timings_ms")
        timings = found if isinstance(found, dict) else None
    return JobRecord(
        kind=job.kind, status=job.status, created_at=job.created_at, started_at=job.started_at,
        timings_ms=timings, queued_at=job.queued_at, finished_at=job.finished_at,
    )

"""Every job record in Valkey, read for ``ragcore stats``: a SCAN over the job keys, each
batch fetched in one pipeline. Read-only, and never on a request's path."""

from __future__ import annotations

import json
import re
from typing import Iterator

import valkey

from ragcore.adapters.valkey_client import valkey_errors
from ragcore.domain.jobs import JobStatus
from ragcore.observability.stats import JobRecord

_FIELDS = ("kind", "status", "created_at", "started_at", "result")
_BATCH = 500


class ValkeyJobRecords:
    def __init__(self, client: valkey.Valkey, prefix: str = "ragcore:job:") -> None:
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
    if not fields["status"] or not fields["created_at"]:
        return None  # expired between the scan and the read
    timings = None
    if fields["status"] == JobStatus.FINISHED and fields["result"]:
        found = json.loads(fields["result"]).get("timings_ms")
        timings = found if isinstance(found, dict) else None
    return JobRecord(
        kind=fields["kind"] or "chat",
        status=JobStatus(fields["status"]),
        created_at=float(fields["created_at"]),
        started_at=float(fields["started_at"]) if fields["started_at"] else None,
        timings_ms=timings,
    )

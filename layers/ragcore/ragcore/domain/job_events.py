"""A job's event stream: what a client following a job (``GET /jobs/{id}/events``) is told, in
order, each event named by an id it can resume after.

Two kinds, both written by the job store in the same atomic step as the change they report:
``status`` (the job's status changed, or a new attempt claimed it: ``{"status", "attempt"}``)
and ``delta`` (answer text the worker has streamed: ``{"offset", "text", "attempt"}``; a
follower keeps ``partial[:offset] + text``, offsets in Unicode code points, and a retried
attempt starts again at offset 0). The store keeps the newest ``EVENTS_KEPT`` of a job's
events while the job runs, and ``EVENTS_KEPT_AFTER_END_SECONDS`` once it has ended (never past
the job's own expiry): a client that comes later is answered from the job, which holds its
result for its whole TTL, and days of streams nobody will replay cost no memory.
"""

from __future__ import annotations

from pydantic import BaseModel

STATUS = "status"
DELTA = "delta"
EVENTS_KEPT = 1000  # per job: ~100 s of deltas at the default write interval, then the oldest go
EVENTS_KEPT_AFTER_END_SECONDS = 3600


class JobEvent(BaseModel):
    """One entry of a job's stream. ``id`` is the store's (Valkey: ``<ms>-<seq>``), increasing,
    so a follower resumes with ``read_events(after=id)``."""

    id: str
    type: str
    data: dict


def event_order(event_id: str) -> tuple[int, int]:
    """An event id as a sortable value: ``"1764700000000-3"`` → ``(1764700000000, 3)``. A
    follower whose last id sorts before the oldest kept event's has missed trimmed events."""
    ms, _, seq = event_id.partition("-")
    return int(ms), int(seq or 0)


def delta_after(previous: str, text: str) -> tuple[int, str]:
    """What a follower holding ``previous`` needs to see ``text``: the offset to cut at and the
    text to append there (the whole text from 0 when it does not extend ``previous``). One rule
    for every delta: the in-memory store's (the Valkey store's script applies it in Lua) and the
    client's, made from polls of a server without the events route."""
    if text.startswith(previous):
        return len(previous), text[len(previous):]
    return 0, text

"""The judged queries of a benchmark split once into a part to tune on and a part to check on.

The split is by a stable hash of the query id (~60% tuning, ~40% validation), so it is the
same on every machine and run and does not depend on the file's order or size. A choice that
helps only the tuning part fits its queries, not retrieval (docs/RETRIEVAL.md).
"""

from __future__ import annotations

import hashlib

QUERY_SETS = ("all", "tuning", "validation")
TUNING_PERCENT = 60


def query_set_of(query_id: str) -> str:
    """``tuning`` or ``validation``."""
    bucket = int.from_bytes(hashlib.sha256(query_id.encode()).digest()[:4], "big") % 100
    return "tuning" if bucket < TUNING_PERCENT else "validation"


def in_query_set(query_id: str, query_set: str) -> bool:
    if query_set not in QUERY_SETS:
        raise ValueError(f"unknown query set {query_set!r}; one of {', '.join(QUERY_SETS)}")
    return query_set == "all" or query_set_of(query_id) == query_set

"""Issue 18: what one request leaves in Valkey, and for how long (docs/PERFORMANCE.md).

    .venv/bin/python bench/valkey_memory.py

Through the offline stack (Valkey in cluster mode, LocalStack SQS, embedded Qdrant, a fake LLM
whose answer cites passage 1): the sample lighthouse document is ingested, then each request
below is sent over HTTP and answered by the worker, and the keys it wrote are measured with
``MEMORY USAGE`` (the server's own count of a key's bytes, overhead included). Every chat is a
turn of a conversation, so a one-shot question writes its job and a conversation of one turn;
a request with an ``Idempotency-Key`` also keeps its first answer for
``IDEMPOTENCY_TTL_SECONDS``. Under a minute.
"""

from __future__ import annotations

import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.harness import env  # noqa: E402

env.apply()

import httpx  # noqa: E402

from ragcore.adapters.valkey_client import connect  # noqa: E402
from ragcore.domain.job_events import EVENTS_KEPT_AFTER_END_SECONDS  # noqa: E402
from tests.support.fake_llm import FakeLLM  # noqa: E402
from tests.support.stack import fake_llm_stack  # noqa: E402

DOCUMENT = env.ROOT / "samples" / "docs" / "skerry-point-lighthouse.md"
QUESTION = "When was Skerry Point Lighthouse first lit?"


def _finished(http: httpx.Client, job_id: str) -> dict[str, Any]:
    for _ in range(600):
        answer = http.get(f"/result/{job_id}")
        if answer.status_code != 202:
            assert answer.status_code == 200, answer.text
            return answer.json()
        time.sleep(0.05)
    raise TimeoutError(job_id)


def _bytes(client: Any, pattern: str) -> int:
    keys = list(client.scan_iter(match=pattern, count=1000))
    assert keys, pattern
    return sum(client.memory_usage(key, samples=0) or 0 for key in keys)


def measure() -> list[tuple[str, int, str]]:
    with FakeLLM() as llm, tempfile.TemporaryDirectory(prefix="ragcore-memory-") as tmp:
        with fake_llm_stack(llm, Path(tmp)) as stack, httpx.Client(base_url=stack.api_url, timeout=30) as http:
            valkey = connect(stack.settings.valkey_url, timeout_seconds=5)  # type: ignore[union-attr]
            added = http.post("/documents", json={"text": DOCUMENT.read_text(), "document_id": "lighthouse"})
            assert added.status_code == 202, added.text
            _finished(http, added.json()["job_id"])

            first = http.post("/chat", json={"query": QUESTION, "top_k": 5}).json()
            answer = _finished(http, first["job_id"])
            job = _bytes(valkey, f"ragcore:job:{first['job_id']}")
            events_key = f"{{ragcore:job:{first['job_id']}}}:events"  # domain/job_events.py
            events, entries = _bytes(valkey, events_key), valkey.xlen(events_key)
            conversation = _bytes(valkey, f"ragcore:conv:{{{first['conversation_id']}}}:*")
            follow = http.post("/chat", json={"query": "When was it automated?", "top_k": 5,
                                              "conversation_id": first["conversation_id"]}).json()
            _finished(http, follow["job_id"])
            two_turns = _bytes(valkey, f"ragcore:conv:{{{first['conversation_id']}}}:*")

            keyed = http.post("/chat", json={"query": QUESTION}, headers={"Idempotency-Key": str(uuid.uuid4())})
            assert keyed.status_code == 202, keyed.text
            one_key = _bytes(valkey, "ragcore:idem:*")
            batch = http.post("/chat/batch", json={"questions": [{"query": f"{QUESTION} ({i})"} for i in range(100)]},
                              headers={"Idempotency-Key": str(uuid.uuid4())})
            assert batch.status_code == 202, batch.text
            two_keys = _bytes(valkey, "ragcore:idem:*")
            ttl = stack.settings.job_ttl_seconds  # type: ignore[union-attr]
            kept = stack.settings.idempotency_ttl_seconds  # type: ignore[union-attr]
            return [
                (f"a finished chat job (answer of {len(answer['answer'])} chars, {len(answer['sources'])} "
                 "sources)", job, f"{ttl} s"),
                (f"its event stream ({entries} entries)", events,
                 f"{EVENTS_KEPT_AFTER_END_SECONDS} s after the job ends"),
                ("its conversation, one turn recorded", conversation, f"{ttl} s from the last turn"),
                ("the same conversation after a follow-up", two_turns, f"{ttl} s from the last turn"),
                ("a POST /chat answer kept for its Idempotency-Key", one_key, f"{kept} s"),
                ("a POST /chat/batch answer (100 questions) kept for its key", two_keys - one_key, f"{kept} s"),
            ]


def main() -> None:
    rows = measure()
    width = max(len(name) for name, _, _ in rows)
    print(f"{'what':<{width}}  {'bytes':>7}  kept")
    for name, size, kept in rows:
        print(f"{name:<{width}}  {size:>7,}  {kept}")


if __name__ == "__main__":
    main()

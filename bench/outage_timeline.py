"""What a client sees while the LLM is down: one chat job through the offline stack with the
template's own clocks (visibility timeout 360 s, 5 deliveries, redelivery after 10, 30, 90,
120 s), its status polled over HTTP; every change is printed as it happens.

    .venv/bin/python bench/outage_timeline.py --down 30        # a short outage: finished
    .venv/bin/python bench/outage_timeline.py --down forever   # a lasting one: failed, < 10 min

The LLM is a fake that answers HTTP 500 while "down" (an outage that answers at once; one that
hangs costs up to the function's 60 s per delivery, see docs/RELIABILITY.md). Exits 1 if a
short outage does not end finished, or a lasting one does not end failed within 10 minutes.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")  # the handlers' request lines would bury the table

from ragcore.cli.ingest import ingest_through_api  # noqa: E402
from tests.support.fake_llm import FakeLLM, Reply  # noqa: E402
from tests.support.paths import SAMPLES  # noqa: E402
from tests.support.stack import fake_llm_stack  # noqa: E402

VERDICT_BOUND_SECONDS = 600
FINAL = ("finished", "failed", "stopped")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--down", default="forever", help="seconds the LLM answers 500, or 'forever'")
    args = parser.parse_args()
    down = float("inf") if args.down == "forever" else float(args.down)
    with tempfile.TemporaryDirectory() as data, FakeLLM() as llm, fake_llm_stack(llm, Path(data)) as stack:
        ingest_through_api([SAMPLES], "default", stack.api_url, show_progress=False)
        with httpx.Client(base_url=stack.api_url, timeout=10) as api:
            started = time.monotonic()
            llm.reply_for = lambda body: Reply(status=500) if time.monotonic() - started < down else None
            job_id = api.post("/chat", json={"query": "When was Skerry Point Lighthouse first lit?"}).json()["job_id"]
            final = _follow(api, job_id, started)
            elapsed = time.monotonic() - started
    print(f"\nLLM down {args.down} s: {final['status']} after {elapsed:.0f} s, {final['attempts']} "
          f"deliveries, {llm.calls} LLM calls; error: {final['error']}")
    if down == float("inf"):
        return 0 if final["status"] == "failed" and elapsed <= VERDICT_BOUND_SECONDS else 1
    return 0 if final["status"] == "finished" else 1


def _follow(api: httpx.Client, job_id: str, started: float) -> dict:
    """Polls the status twice a second until the job is final, printing each change."""
    print(f"{'t (s)':>6}  {'status':<9} {'attempts':>8}  {'next try (t, s)':>15}  last error / error")
    shown = None
    while True:
        status = api.get(f"/job-status/{job_id}").json()
        seen = (status["status"], status["attempts"], status["retry_at"], status["error"])
        if seen != shown:
            shown = seen
            retry = status["retry_at"]
            at = (f"{datetime.fromisoformat(retry).timestamp() - time.time() + time.monotonic() - started:.0f}"
                  if retry else "")
            print(f"{time.monotonic() - started:6.1f}  {status['status']:<9} {status['attempts']:>8}  {at:>15}  "
                  f"{status['error'] or status['last_error'] or ''}", flush=True)
        if status["status"] in FINAL:
            return status
        time.sleep(0.5)


if __name__ == "__main__":
    sys.exit(main())

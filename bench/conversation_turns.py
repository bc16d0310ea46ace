"""Follow-up questions through the offline stack with the bundled model (SmolLM2-135M on
llama.cpp, extractive mode, as `ragcore dev` runs): what a follow-up costs and what its
standalone query finds.

    .venv/bin/python bench/conversation_turns.py [--rounds 1]

For each pair of sample questions, the first question and its follow-up (a pronoun for the
subject) are sent back to back in one conversation, then the follow-up alone in a new one (the
baseline: what retrieval makes of "it" without the conversation). Prints, per pair, the
standalone query and whether the LLM's rewrite or the fallback made it, whether the expected
document is the top source and the expected fact in the answer, with and without the
conversation; then the round trips (submission to final status) of first questions and of
follow-ups sent right behind them (these include waiting for the first: turns are answered in
order), and of the follow-ups alone. Runs on free ports and a temporary data directory.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ragcore.bootstrap import get_container  # noqa: E402
from ragcore.domain.conversations import Turn  # noqa: E402
from ragcore.local.stack import DevStack  # noqa: E402
from ragcore.observability.stats import percentile  # noqa: E402
from ragcore.services.ingest import index_files  # noqa: E402
from ragcore.services.standalone_query import fallback_query  # noqa: E402
from tests.support.paths import SAMPLES  # noqa: E402
from tests.support.stack import free_stack_options  # noqa: E402

# (first question, follow-up, the document that answers the follow-up, a fact of its answer)
PAIRS = [
    ("When was Skerry Point Lighthouse first lit?", "When was it automated?", "skerry-point-lighthouse", "1991"),
    ("How tall is the Skerry Point Lighthouse tower?", "How far away can its light be seen?",
     "skerry-point-lighthouse", "23"),
    ("How often should a sourdough starter be fed at room temperature?",
     "How often does it need feeding in the refrigerator?", "sourdough-starter", "once a week"),
    ("What does the ochre sea star eat?", "What happens when they are removed from the pools?",
     "tidal-pool-ecology", "mussel"),
    ("How do forager honeybees tell nestmates where food is?", "What does the duration of their waggle run encode?",
     "honeybee-waggle-dance", "distance"),
]


def final(http: httpx.Client, job_id: str, started: float) -> tuple[dict, float]:
    while http.get(f"/job-status/{job_id}").json()["status"] in ("queued", "started"):
        time.sleep(0.05)
    return http.get(f"/result/{job_id}").json(), time.perf_counter() - started


def ask(http: httpx.Client, query: str, conversation_id: str | None = None) -> tuple[dict, float]:
    body = {"query": query, "top_k": 3, **({"conversation_id": conversation_id} if conversation_id else {})}
    return http.post("/chat", json=body).json(), time.perf_counter()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    options = free_stack_options(Path(tempfile.mkdtemp(prefix="bench-")), llm_threads=2)
    times: dict[str, list[float]] = {"first": [], "follow-up, right behind it": [], "follow-up alone": []}
    rows = []
    with DevStack(options) as stack, httpx.Client(base_url=stack.api_url, timeout=60) as http:
        container = get_container()
        index_files([SAMPLES], "default", container.embedder, container.vector_index, limits=container.parse_limits)
        for _ in range(args.rounds):
            for first_q, follow_q, document, fact in PAIRS:
                first, first_at = ask(http, first_q)
                follow, follow_at = ask(http, follow_q, first["conversation_id"])
                first_result, first_s = final(http, first["job_id"], first_at)
                follow_result, follow_s = final(http, follow["job_id"], follow_at)
                alone, alone_at = ask(http, follow_q)
                alone_result, alone_s = final(http, alone["job_id"], alone_at)
                times["first"].append(first_s)
                times["follow-up, right behind it"].append(follow_s)
                times["follow-up alone"].append(alone_s)
                previous = Turn(job_id=first["job_id"], question=first_q, created_at=0.0)
                query = follow_result.get("standalone_query") or ""
                rows.append((
                    follow_q, query, "fallback" if query == fallback_query(follow_q, [previous]) else "LLM",
                    _top(follow_result) == document, fact in follow_result.get("answer", ""),
                    _top(alone_result) == document, fact in alone_result.get("answer", ""),
                ))
    print(f"{len(rows)} follow-ups, offline stack, {stack.llm_in_use}, extractive mode\n")
    print(f"{'follow-up':<52}{'by':<10}{'top doc':>8}{'fact':>6}{'alone: doc':>12}{'fact':>6}  standalone query")
    for question, query, by, doc, fact_in, alone_doc, alone_fact in rows:
        print(f"{question[:51]:<52}{by:<10}{_yes(doc):>8}{_yes(fact_in):>6}{_yes(alone_doc):>12}{_yes(alone_fact):>6}"
              f"  {query}")
    print(f"\nright top document: {sum(r[3] for r in rows)}/{len(rows)} in the conversation, "
          f"{sum(r[5] for r in rows)}/{len(rows)} alone; fact in the answer: {sum(r[4] for r in rows)}/{len(rows)} "
          f"and {sum(r[6] for r in rows)}/{len(rows)}; rewrites by the LLM: {sum(r[2] == 'LLM' for r in rows)}"
          f"/{len(rows)}\n")
    print(f"{'round trip':<28}{'p50 s':>8}{'max s':>8}{'mean s':>8}")
    for name, values in times.items():
        print(f"{name:<28}{percentile(values, 0.5):>8.2f}{max(values):>8.2f}{statistics.fmean(values):>8.2f}")


def _top(result: dict) -> str | None:
    sources = result.get("sources") or []
    return sources[0]["document_id"] if sources else None


def _yes(value: bool) -> str:
    return "yes" if value else "no"


if __name__ == "__main__":
    main()

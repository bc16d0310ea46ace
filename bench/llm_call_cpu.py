"""Issue 19, item 4 (why streaming does not lower worker throughput): CPU the worker spends on
one LLM call through its adapter (``adapters/openai_chat.py``), whole and streamed.

    .venv/bin/python bench/llm_call_cpu.py [--calls 1000] [--words 8]

A fake OpenAI-compatible LLM (``tests/support/fake_llm.py``, real HTTP) runs in a child process
on the other CPU and answers ``--words`` words at once (whole, or one stream chunk a word, as
OpenAI streams); this process, on CPU 0, makes ``--calls`` calls each way after a warm-up and
reports its own CPU time per call (``time.process_time``: the adapter, the SDK, the reader
thread). Three ways: ``complete`` (what the worker did before streaming), ``stream`` (what it
does now), and ``stream`` with the chunks read in the caller's thread (the adapter's
``_Read.within`` replaced; what the reader thread that bounds a stalled stream costs). Median of
``--rounds`` rounds. About a minute.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.harness import env  # noqa: E402

env.apply()

import openai  # noqa: E402

from bench.harness.report import Figure, Report  # noqa: E402
from ragcore.adapters import openai_chat  # noqa: E402
from ragcore.adapters.openai_chat import OpenAIChatModel  # noqa: E402

QUESTION = [{"role": "user", "content": "When was Skerry Point Lighthouse first lit? " * 30}]
FAKE = """
import sys, time
from tests.support.fake_llm import FakeLLM
with FakeLLM(answer=" ".join(["word"] * int(sys.argv[1])) + " [1].") as llm:
    print(llm.base_url, flush=True)
    sys.stdin.read()
"""


def _in_caller(read: Any, chunks: Any, deadline: float, limit: float) -> None:
    for chunk in chunks:
        read.take(chunk)


def per_call_ms(call: Callable[[], object], calls: int) -> float:
    for _ in range(min(50, calls)):
        call()
    started = time.process_time()
    for _ in range(calls):
        call()
    return (time.process_time() - started) / calls * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--words", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    os.sched_setaffinity(0, {0})
    fake = subprocess.Popen([sys.executable, "-c", FAKE, str(args.words)], cwd=env.ROOT, text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        os.sched_setaffinity(fake.pid, {1 % (os.cpu_count() or 1)})
        base_url = fake.stdout.readline().strip()  # type: ignore[union-attr]
        client = openai.OpenAI(api_key="k", base_url=base_url, max_retries=0)
        model = OpenAIChatModel(client, "m", max_tokens=64, temperature=0, timeout=30)
        threaded = openai_chat._Read.within
        ways: dict[str, Callable[[], object]] = {
            "complete": lambda: model.complete(QUESTION),
            "stream": lambda: model.stream(QUESTION, lambda text: None),
            "stream, read in the caller's thread": lambda: model.stream(QUESTION, lambda text: None),
        }
        runs: dict[str, list[float]] = {way: [] for way in ways}
        for _ in range(args.rounds):  # alternating, so a busy moment falls on every way alike
            for way, call in ways.items():
                openai_chat._Read.within = _in_caller if "caller" in way else threaded  # type: ignore[method-assign]
                runs[way].append(per_call_ms(call, args.calls))
        openai_chat._Read.within = threaded  # type: ignore[method-assign]
    finally:
        fake.communicate("")
    report = Report("llm_call_cpu", "CPU per LLM call through the adapter, whole and streamed",
                    f"bench/llm_call_cpu.py --calls {args.calls} --words {args.words} --rounds {args.rounds}")
    for way, values in runs.items():
        report.add(Figure(f"{way}: CPU per call", statistics.median(values), "ms"))
    report.details = {"rounds_ms": runs, "words": args.words}
    report.finish()


if __name__ == "__main__":
    main()

"""What reading a PDF costs, before and after the parsing bounds (issue 15).

    .venv/bin/python bench/pdf_parse_cost.py

Each case in a fresh process: ``inprocess`` reads as ragcore did before (pypdf in the worker's
own process, no bound), ``bounded`` through ``services.parsing.parse`` with the default bounds
(a child process; pages, characters, time and memory capped). Prints the time, the peak RSS of
the process and of its children, and what came out.
"""

from __future__ import annotations

import io
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "layers" / "ragcore")]

CASES = {  # name: (content stream bytes, pages sharing it)
    "one-stream": (2_000_000, 1),
    "eight-pages": (250_000, 8),
    "thousand-pages": (2_000_000, 1000),
    "inflate": (60_000_000, 1000),
}


def _inprocess(data: bytes) -> str:
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(data))
    return "\n\n".join(page.extract_text() or "" for page in reader.pages)


def _bounded(data: bytes) -> str:
    from ragcore.services.parsing import parse

    return parse(data, "application/pdf").text


def _one(mode: str, case: str) -> None:
    from tests.support.documents import make_shared_stream_pdf

    data = make_shared_stream_pdf(*CASES[case])
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    started = time.monotonic()
    try:
        out = f"{len((_inprocess if mode == 'inprocess' else _bounded)(data)):,} characters"
    except Exception as exc:  # the bound that refused it
        out = str(exc)[:100]
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024
    print(f"{mode:9} {case:14} {len(data):>7} B  {time.monotonic() - started:6.1f} s  "
          f"RSS {rss} -> {own} MB, child {child} MB  {out}", flush=True)


if __name__ == "__main__":
    if len(sys.argv) == 3:
        _one(*sys.argv[1:])
    else:
        for case in CASES:
            for mode in ("inprocess", "bounded"):
                if mode == "inprocess" and CASES[case][1] > 8:
                    continue  # hours: 1,000 times the one-page case
                subprocess.run([sys.executable, __file__, mode, case], check=False)

"""What the citation check (services/citation_check.py) and the extractive choice
(services/extractive.py) cost per answer, with the product's embedder on one thread.

    OPENBLAS_NUM_THREADS=1 .venv/bin/python bench/citation_check.py

Cases: the demo's (3 sample passages, a one-sentence answer), a long answer over the same
passages, and the worst a request can make with the default settings: top_k 20 passages of
2,000 characters (the chunker's bound) and an answer of LLM_MAX_TOKENS (400 tokens, about 30
sentences). Prints the median of 5 runs after a warm-up.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "layers" / "ragcore"))

from ragcore.adapters.onnx_embedder import OnnxEmbedder  # noqa: E402
from ragcore.config import DEFAULT_MODEL_DIR  # noqa: E402
from ragcore.domain.answers import Passage  # noqa: E402
from ragcore.domain.chunking import chunk_text  # noqa: E402
from ragcore.services.citation_check import check_citations  # noqa: E402
from ragcore.services.extractive import extractive_answer  # noqa: E402

SAMPLE = ROOT / "samples" / "docs" / "skerry-point-lighthouse.md"
SENTENCE = "The tower, painted in red and white bands in 1874, stands 31 metres tall on the headland [1]."


def passages(texts: list[str]) -> list[Passage]:
    return [Passage(chunk_id=str(i), document_id="d", title="t", source="s", text=t, score=1.0)
            for i, t in enumerate(texts)]


def timed(run) -> float:  # type: ignore[no-untyped-def]
    run()
    runs = []
    for _ in range(5):
        started = time.perf_counter()
        run()
        runs.append(time.perf_counter() - started)
    return statistics.median(runs) * 1000


def main() -> None:
    embedder = OnnxEmbedder(DEFAULT_MODEL_DIR, threads=1)
    sample = passages([c.text for c in chunk_text(SAMPLE.read_text())[:3]])
    long_text = "Heading\n" + " ".join([SENTENCE.replace(" [1]", "")] * 22)[:1990]
    worst = passages([long_text] * 20)
    long_answer = " ".join([SENTENCE] * 30)
    cases = [
        ("check: demo (3 passages, 1 sentence)", lambda: check_citations(
            "The fog signal was first lit on 12 October 1874 [3].", sample, embedder)),
        ("check: 3 passages, 30 sentences", lambda: check_citations(long_answer, sample, embedder)),
        ("check: worst (20 x 2,000 chars, 30 sentences)", lambda: check_citations(long_answer, worst, embedder)),
        ("extractive choice: demo (no LLM)", lambda: extractive_answer(
            "When was Skerry Point Lighthouse first lit?", sample, embedder, None)),
        ("extractive choice: worst (20 x 2,000 chars)", lambda: extractive_answer(
            "How tall is the tower?", worst, embedder, None)),
    ]
    print(f"{'case':<48}{'ms (median of 5)':>18}")
    for name, run in cases:
        print(f"{name:<48}{timed(run):>18.0f}")


if __name__ == "__main__":
    main()

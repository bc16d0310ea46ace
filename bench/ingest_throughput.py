"""Ingestion throughput (issue 7, item 4 of bench/ — "5. Ingestion"): chunks/s and peak memory
(RSS) for the SciFact corpus through the product's ingest path — ``services.ingest.
index_documents`` with the adapters ``bootstrap`` builds (ONNX MiniLM embedder, Qdrant's BM25,
the embedded Qdrant engine), exactly what ``ragcore eval beir`` and the worker's document jobs
run. Prints a table with the target beside each figure and writes JSON.

    .venv/bin/python bench/ingest_throughput.py [../shared/datasets/scifact] \\
        [--docs N] [--threads 2] [--profile bench/results/ingest_profile.html] \\
        [--json bench/results/ingest_throughput.json]

Runs in a fresh temporary Qdrant directory of its own. Thread counts are set on purpose before
numpy/onnxruntime load: BLAS and OpenMP pools to 1 (the 2 cores belong to onnxruntime's
intra-op pool, ``--threads``, as ``EMBEDDER_THREADS`` in the ingest function), tokenizers'
own pool off (batches are small; its threads would fight onnxruntime's). The whole corpus
(5,183 abstracts, ~25,500 chunks) takes about 4 minutes at 100 chunks/s; ``--docs`` takes the
first N. Peak RSS is the process's ``ru_maxrss`` (model, index, corpus and all).
"""

from __future__ import annotations

import os

for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import argparse  # noqa: E402
import itertools  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
TARGET_CHUNKS_PER_SECOND = 100.0
BEFORE_CHUNKS_PER_SECOND = 44.0  # docs/RETRIEVAL.md, before issue 7


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dataset", nargs="?", type=Path, default=ROOT.parent / "shared/datasets/scifact")
    parser.add_argument("--docs", type=int, default=None, help="only the first N documents")
    parser.add_argument("--threads", type=int, default=2, help="EMBEDDER_THREADS (onnxruntime intra-op)")
    parser.add_argument("--profile", type=Path, default=None, help="write a pyinstrument HTML profile")
    parser.add_argument("--json", type=Path, default=ROOT / "bench/results/ingest_throughput.json")
    args = parser.parse_args()

    data = Path(tempfile.mkdtemp(prefix="ragcore-bench-ingest-"))
    from ragcore.bootstrap import install
    from ragcore.config import Settings
    from ragcore.evaluation.beir import read_corpus
    from ragcore.services.ingest import index_documents

    container = install(Settings(qdrant_path=data / "qdrant", embedder_threads=args.threads, metrics_backend="off"))
    started = time.perf_counter()
    embedder, index = container.embedder, container.vector_index
    load_seconds = time.perf_counter() - started
    rss_before = rss_mb()

    documents = read_corpus(args.dataset)
    if args.docs:
        documents = itertools.islice(documents, args.docs)
    profiler = None
    if args.profile:
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.005)
        profiler.start()
    last = [0.0]

    def progress(docs: int, chunks: int) -> None:
        now = time.perf_counter()
        if now - last[0] > 15:
            last[0] = now
            print(f"  {docs} documents, {chunks} chunks, {chunks / (now - started):.1f} chunks/s",
                  file=sys.stderr, flush=True)

    started = time.perf_counter()
    summary = index_documents(documents, "bench", embedder, index, progress=progress)
    seconds = time.perf_counter() - started
    if profiler:
        profiler.stop()
        args.profile.parent.mkdir(parents=True, exist_ok=True)
        args.profile.write_text(profiler.output_html())
    index.close()

    rate = summary.chunks / seconds
    peak = rss_mb()
    result = {
        "dataset": str(args.dataset),
        "documents": summary.documents,
        "chunks": summary.chunks,
        "seconds": round(seconds, 1),
        "chunks_per_second": round(rate, 1),
        "target_chunks_per_second": TARGET_CHUNKS_PER_SECOND,
        "before_chunks_per_second": BEFORE_CHUNKS_PER_SECOND,
        "pass": rate >= TARGET_CHUNKS_PER_SECOND,
        "peak_rss_mb": round(peak, 0),
        "rss_after_model_load_mb": round(rss_before, 0),
        "model_and_index_load_seconds": round(load_seconds, 2),
        "embedder_threads": args.threads,
        "machine": {"cpus": os.cpu_count(), "load_average": os.getloadavg(), "python": platform.python_version()},
    }
    print(f"\n{'figure':<34}{'measured':>12}{'target':>12}  result")
    print(f"{'ingestion chunks/s':<34}{rate:>12.1f}{'>= 100':>12}  {'PASS' if result['pass'] else 'MISS'}")
    print(f"{'  (before issue 7)':<34}{BEFORE_CHUNKS_PER_SECOND:>12.1f}")
    print(f"{'chunks':<34}{summary.chunks:>12}")
    print(f"{'documents':<34}{summary.documents:>12}")
    print(f"{'seconds':<34}{seconds:>12.1f}")
    print(f"{'peak RSS MB':<34}{peak:>12.0f}{'-':>12}  (ingest function: 3,538 MB)")
    print(f"{'RSS after model load MB':<34}{rss_before:>12.0f}")
    print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()

"""The ``ragcore`` command: offline stack, demo, ingestion and build steps."""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ragcore.config import DEFAULT_MODEL_DIR, get_settings

if TYPE_CHECKING:
    from ragcore.local.stack import DevStack

SAMPLE_DOCS = Path("samples/docs")
DEMO_QUESTION = "When was Skerry Point Lighthouse first lit?"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ragcore", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    dev = commands.add_parser("dev", help="run the offline stack until Ctrl-C")
    dev.add_argument("--ingest", type=Path, nargs="*", default=[SAMPLE_DOCS],
                     help="documents to ingest at start (default: the samples)")

    demo = commands.add_parser("demo", help="start the offline stack, ask one question, stop")
    demo.add_argument("--question", default=DEMO_QUESTION)
    demo.add_argument("--top-k", type=int, default=3)

    ingest = commands.add_parser("ingest", help="chunk, embed and upsert .md/.txt files")
    ingest.add_argument("paths", type=Path, nargs="+")
    ingest.add_argument("--collection", default="default")

    evaluation = commands.add_parser("eval", help="measure retrieval quality")
    benchmarks = evaluation.add_subparsers(dest="benchmark", required=True)
    beir = benchmarks.add_parser("beir", help="a BEIR-format benchmark directory")
    beir.add_argument("directory", type=Path, help="holds corpus.jsonl, queries.jsonl, qrels/SPLIT.tsv")
    beir.add_argument("--split", required=True)
    # Only dense retrieval exists so far; hybrid and sparse arrive with BM25 vectors (issue 3).
    beir.add_argument("--mode", choices=["dense"], default="dense")
    beir.add_argument("--collection", default=None, help="default: beir-<directory name>")
    beir.add_argument("--json", action="store_true", help="print one JSON object")

    model = commands.add_parser("model", help="build steps for the embedding model")
    model_commands = model.add_subparsers(dest="model_command", required=True)
    export = model_commands.add_parser("export", help="export all-MiniLM-L6-v2 to ONNX")
    export.add_argument("--out", type=Path, default=DEFAULT_MODEL_DIR)

    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    commands_by_name = {"dev": _dev, "demo": _demo, "ingest": _ingest, "eval": _eval, "model": _model}
    return commands_by_name[args.command](args)


def _eval(args: argparse.Namespace) -> int:
    from ragcore.bootstrap import get_container
    from ragcore.evaluation.beir import evaluate

    container = get_container()
    collection = args.collection or f"beir-{args.directory.resolve().name}"
    report = evaluate(
        args.directory, args.split, collection, container.embedder, container.vector_index,
        progress=lambda line: print(f"\r{line}", end="", file=sys.stderr, flush=True),
    )
    print(file=sys.stderr)
    if args.json:
        print(json.dumps(report))
        return 0
    print(f"{'metric':<20}{'value':>10}   ({args.mode}, split {args.split!r}, collection {collection!r})")
    for name, value in report.items():
        print(f"{name:<20}{value:>10}")
    return 0


def _model(args: argparse.Namespace) -> int:
    from ragcore.model_export import export_minilm

    print(f"exported {export_minilm(args.out)}")
    return 0


def _ingest(args: argparse.Namespace) -> int:
    _ingest_into(args.paths, args.collection)
    return 0


def _ingest_into(paths: list[Path], collection: str) -> None:
    """Uses the process's own adapters: inside `dev`/`demo` that is the running stack's, which
    matters because the embedded Qdrant can be opened by one process only."""
    from ragcore.bootstrap import get_container
    from ragcore.services.ingest import ingest_files

    container = get_container()
    started = time.perf_counter()
    summary = ingest_files(paths, collection, container.embedder, container.vector_index)
    print(
        f"ingested {summary.documents} documents as {summary.chunks} chunks into "
        f"{collection!r} in {time.perf_counter() - started:.1f}s"
    )


def _stack(**overrides: Any) -> "DevStack":
    from ragcore.local.stack import DevStack, StackOptions

    return DevStack(StackOptions.from_settings(get_settings(), **overrides))


def _dev(args: argparse.Namespace) -> int:
    # SIGTERM takes the same path as Ctrl-C: the stack's context manager stops every service,
    # whether the signal comes during start-up, ingestion or serving.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        with _stack() as stack:
            if args.ingest:
                _ingest_into(args.ingest, "default")
            print(f"\nragcore is up: API {stack.api_url}  (Ctrl-C stops everything)")
            print(f"  curl -s -X POST {stack.api_url}/chat -H 'Content-Type: application/json' "
                  f"-d '{{\"query\": \"{DEMO_QUESTION}\", \"top_k\": 3}}'", flush=True)
            while True:
                time.sleep(3600)
    except KeyboardInterrupt:
        print("\nstopped; every service the stack started has been shut down")
    return 0


def _demo(args: argparse.Namespace) -> int:
    logging.getLogger().setLevel(logging.WARNING)
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")  # keep the demo's output readable
    print("starting the offline stack (Valkey, LocalStack SQS, embedded Qdrant, local LLM)...")
    with _stack() as stack:
        _ingest_into([SAMPLE_DOCS], "default")
        print(f"\nQ: {args.question}")
        accepted = _http("POST", f"{stack.api_url}/chat", {"query": args.question, "top_k": args.top_k})
        job_id = accepted["job_id"]
        print(f"   job {job_id} queued; waiting for the worker...")
        deadline = time.monotonic() + 300
        status = accepted["status"]
        while status in ("queued", "started") and time.monotonic() < deadline:
            time.sleep(0.5)
            status = _http("GET", f"{stack.api_url}/job-status/{job_id}")["status"]
        if status != "finished":
            print(f"job ended as {status}: {_http('GET', f'{stack.api_url}/job-status/{job_id}')}")
            return 1
        result = _http("GET", f"{stack.api_url}/result/{job_id}")
        print(f"\nA: {result['answer']}\n")
        for source in result["sources"]:
            print(f"   [{source['n']}] {source['title']} ({source['source']}, score {source['score']:.2f})")
            print(f"       {source['snippet'][:110]}")
        t = result["timings_ms"]
        print(
            f"\n   model {result['model']}, {result['usage']['total_tokens']} tokens; retrieval "
            f"{t['embed_ms'] + t['retrieval_ms']:.0f} ms, LLM {t['llm_ms']:.0f} ms, total {t['total_ms']:.0f} ms"
        )
    return 0


def _http(method: str, url: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        url, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - local stack
            return json.load(response)
    except urllib.error.HTTPError as exc:  # 4xx/5xx; a 202 is a success and returns above
        raise SystemExit(f"{method} {url} -> {exc.code}: {exc.read().decode(errors='replace')}") from exc


if __name__ == "__main__":
    sys.exit(main())

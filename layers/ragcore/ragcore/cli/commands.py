"""The ``ragcore`` command: offline stack, demo, questions and jobs, ingestion and build steps."""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ragcore.cli import chat, eval_answers, jobs, stats, webhooks
from ragcore.config import DEFAULT_MODEL_DIR, Settings
from ragcore.domain.job_kinds import QueueName
from ragcore.domain.retrieval import RetrievalMode
from ragcore.domain.tenancy import TENANT_PATTERN
from ragcore.evaluation.query_sets import QUERY_SETS

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

    jobs.add_parsers(commands)
    chat.add_parser(commands)
    stats.add_parser(commands)

    ingest = commands.add_parser(
        "ingest", help="add .txt/.md/.html/.pdf files and folders (recursive) to a collection"
    )
    ingest.add_argument("paths", type=Path, nargs="+")
    ingest.add_argument("--collection", default="default")
    ingest.add_argument("--api", metavar="URL",
                        help="go through a running API (e.g. http://127.0.0.1:8787) instead of "
                             "writing to this machine's index directly")
    ingest.add_argument("--quiet", action="store_true", help="no progress bars")

    evaluation = commands.add_parser("eval", help="measure retrieval and answer quality")
    benchmarks = evaluation.add_subparsers(dest="benchmark", required=True)
    beir = benchmarks.add_parser("beir", help="a BEIR-format benchmark directory")
    beir.add_argument("directory", type=Path, help="holds corpus.jsonl, queries.jsonl, qrels/SPLIT.tsv")
    beir.add_argument("--split", required=True)
    beir.add_argument("--mode", choices=[m.value for m in RetrievalMode], default=RetrievalMode.HYBRID.value)
    beir.add_argument("--collection", default=None, help="default: beir-<directory name>")
    beir.add_argument("--skip-ingest", action="store_true",
                      help="reuse the collection an earlier run filled (to compare modes quickly)")
    beir.add_argument("--queries", choices=QUERY_SETS, default="all",
                      help="the judged queries: all, or the tuning or validation part (by query id hash)")
    beir.add_argument("--json", action="store_true", help="print one JSON object")
    eval_answers.add_parser(benchmarks, SAMPLE_DOCS)

    dlq = commands.add_parser("dlq", help="dead-letter queues")
    dlq_commands = dlq.add_subparsers(dest="dlq_command", required=True)
    redrive = dlq_commands.add_parser(
        "redrive", help="send dead-lettered jobs back to work (failed jobs are queued again)"
    )
    redrive.add_argument("--queue", choices=[q.value for q in QueueName], action="append",
                         help="default: every queue")
    redrive.add_argument("--local", action="store_true",
                         help="act on the running `ragcore dev` stack instead of the environment's queues")

    keys = commands.add_parser("keys", help="API keys (stored as keyed hashes in Valkey)")
    key_commands = keys.add_subparsers(dest="keys_command", required=True)
    create = key_commands.add_parser("create", help="make a key; it is printed once, never stored")
    create.add_argument("--name", required=True)
    create.add_argument("--tenant", type=_tenant_name,
                        help="keys with the same tenant share jobs and collections (default: its own); "
                             "lower-case letters, digits and '-', at most 32")
    create.add_argument("--rate", type=float, default=5.0, help="requests per second (default 5)")
    create.add_argument("--burst", type=int, default=20, help="bucket size (default 20)")
    create.add_argument("--daily-quota", type=int, help="requests per UTC day (default: none)")
    key_commands.add_parser("list", help="every key's id, name, tenant, limits and state")
    revoke = key_commands.add_parser("revoke", help="refuse a key from now on")
    revoke.add_argument("key_id")
    for command in (create, revoke, key_commands.choices["list"]):
        command.add_argument("--local", action="store_true", help="the running `ragcore dev` stack's Valkey")

    webhooks.add_parser(commands, _tenant_name)

    migrate = commands.add_parser(
        "migrate-registry",
        help="move document registry entries written before cluster mode (keys without the "
             "collection's hash tag) to their current names; VALKEY_URL from the environment",
    )

    model = commands.add_parser("model", help="build steps for the embedding model")
    model_commands = model.add_subparsers(dest="model_command", required=True)
    export = model_commands.add_parser("export", help="export all-MiniLM-L6-v2 to ONNX")
    export.add_argument("--out", type=Path, default=DEFAULT_MODEL_DIR)

    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    commands_by_name = {
        "dev": _dev, "demo": _demo, "ingest": _ingest, "eval": _eval, "dlq": _dlq, "keys": _keys,
        "migrate-registry": _migrate_registry, "model": _model, "stats": stats.run, "chat": chat.run,
        "webhooks": webhooks.run,
        **dict.fromkeys(jobs.COMMANDS, jobs.run),
    }
    return commands_by_name[args.command](args)


def _eval(args: argparse.Namespace) -> int:
    if args.benchmark == "answers":
        return eval_answers.run(args, _stack)
    from ragcore.bootstrap import get_container
    from ragcore.evaluation.beir import evaluate

    container = get_container()
    collection = args.collection or f"beir-{args.directory.resolve().name}"
    report = evaluate(
        args.directory, args.split, collection, container.embedder, container.vector_index,
        mode=RetrievalMode(args.mode), ingest=not args.skip_ingest,
        progress=lambda line: print(f"\r{line}", end="", file=sys.stderr, flush=True),
        limits=container.parse_limits, query_set=args.queries,
    )
    print(file=sys.stderr)
    if args.json:
        print(json.dumps(report))
        return 0
    print(f"{'metric':<20}{'value':>10}   ({args.mode}, split {args.split!r}, collection {collection!r})")
    for name, value in report.items():
        print(f"{name:<20}{value:>10}")
    return 0


def _dlq(args: argparse.Namespace) -> int:
    from ragcore.bootstrap import get_container
    from ragcore.local.attach import attach
    from ragcore.services.redrive import redrive

    container = attach() if args.local else get_container()
    queues = container.dead_letter_queues()
    for name in args.queue or list(queues):
        if name not in queues:
            print(f"no {name} queue configured (INGEST_QUEUE_URL is not set)", file=sys.stderr)
            return 2
        report = redrive(queues[name], container.job_store, container.settings.job_deadline_for)
        print(f"{name}: requeued {report.requeued} failed job(s), resent {report.resent}, "
              f"dropped {report.dropped} finished or expired, left {report.unreadable} unreadable")
    return 0


def _tenant_name(value: str) -> str:
    if not TENANT_PATTERN.fullmatch(value):
        raise argparse.ArgumentTypeError(f"{value!r}: use 1-32 lower-case letters, digits or '-' (not first)")
    return value


def _migrate_registry(args: argparse.Namespace) -> int:
    # No --local: the offline stack moves its own registry at start.
    from ragcore.adapters.valkey_documents import migrate_registry_keys
    from ragcore.bootstrap import get_container

    moved = migrate_registry_keys(get_container().valkey_client())
    print(f"moved {moved} document registry key(s) to their current names")
    return 0


def _keys(args: argparse.Namespace) -> int:
    from ragcore.bootstrap import get_container
    from ragcore.local.attach import attach
    from ragcore.services.auth import create_key, revoke_key

    container = attach(queues=False) if args.local else get_container()  # keys need Valkey only
    if args.keys_command == "create":
        record, secret = create_key(
            container.key_store, container.api_key_pepper, args.name, args.tenant, args.rate, args.burst,
            args.daily_quota, gateway=container.gateway_keys,
        )
        print(f"created key {record.key_id} ({record.name}, tenant {record.tenant}); it is shown only now:")
        print(secret)
        return 0
    if args.keys_command == "revoke":
        if revoke_key(container.key_store, args.key_id, container.gateway_keys) is None:
            print(f"no active key {args.key_id!r}", file=sys.stderr)
            return 1
        print(f"revoked {args.key_id}")
        return 0
    print(f"{'key_id':<14}{'name':<20}{'tenant':<14}{'rate/s':>8}{'burst':>7}{'daily':>8}  state")
    for key in container.key_store.list():
        state = "active" if key.active else "revoked"
        print(f"{key.key_id:<14}{key.name[:19]:<20}{key.tenant[:13]:<14}{key.rate_per_second:>8g}"
              f"{key.burst:>7}{key.daily_quota or '-':>8}  {state}")
    return 0


def _model(args: argparse.Namespace) -> int:
    from ragcore.model_export import export_minilm

    print(f"exported {export_minilm(args.out)}")
    return 0


def _ingest(args: argparse.Namespace) -> int:
    from ragcore.cli.ingest import ingest_locally, ingest_through_api
    from ragcore.client import RagcoreError

    if args.api:
        try:
            report = ingest_through_api(args.paths, args.collection, args.api, show_progress=not args.quiet)
        except RagcoreError as exc:
            print(f"ragcore: {exc}", file=sys.stderr)
            return jobs.EXIT_REFUSED
    else:
        report = ingest_locally(args.paths, args.collection, show_progress=not args.quiet)
    print(f"ingested {report.line(args.collection)}")
    failed = sum(n for what, n in report.outcomes.items() if what in ("failed", "stopped", "timed out"))
    return 1 if failed else 0


def _ingest_samples(api_url: str, paths: list[Path]) -> None:
    """Through the API, as a client would: the documents are listed by ``GET /documents``."""
    from ragcore.cli.ingest import ingest_through_api

    report = ingest_through_api(paths, "default", api_url, show_progress=False)
    print(f"ingested {report.line('default')}")


def _stack(**overrides: Any) -> "DevStack":
    from ragcore.local.stack import DevStack, StackOptions

    return DevStack(StackOptions.from_settings(Settings(), **overrides))


def _dev(args: argparse.Namespace) -> int:
    # SIGTERM takes the same path as Ctrl-C: the stack's context manager stops every service,
    # whether the signal comes during start-up, ingestion or serving. SIGINT is set too: a
    # shell without job control starts `ragcore dev &` with SIGINT ignored, and Python keeps
    # an ignored SIGINT ignored, so `kill -INT` would not stop it.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with _stack() as stack:
            if args.ingest:
                _ingest_samples(stack.api_url, args.ingest)
            print(f"\nragcore is up: API {stack.api_url}  (Ctrl-C stops everything)")
            print(f"  LLM: {stack.llm_in_use}")
            print(f"  curl -s -X POST {stack.api_url}/chat -H 'Content-Type: application/json' "
                  f"-d '{{\"query\": \"{DEMO_QUESTION}\", \"top_k\": 3}}'", flush=True)
            while True:
                time.sleep(3600)
    except KeyboardInterrupt:
        print("\nstopped; every service the stack started has been shut down")
    return 0


def _demo(args: argparse.Namespace) -> int:
    from ragcore.client import Client, RagcoreError

    logging.getLogger().setLevel(logging.WARNING)
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")  # keep the demo's output readable
    stack = _stack()
    print(f"starting the offline stack ({stack.services})...")
    with stack, Client(stack.api_url) as client:
        print(f"LLM: {stack.llm_in_use}")
        _ingest_samples(stack.api_url, [SAMPLE_DOCS])
        print(f"\nQ: {args.question}")
        job_id = client.submit(args.question, top_k=args.top_k).job_id
        print(f"   job {job_id} queued; waiting for the worker...")
        try:
            result = client.wait(job_id, timeout=300)
        except RagcoreError as exc:
            print(f"no answer: {exc}")
            return 1
        print(f"\nA: {result.answer}")
        for note in jobs.answer_notes(result):
            print(f"   {note}")
        print()
        for source in result.sources:
            print(f"   {jobs.source_line(source)}")
            print(f"       {source.snippet[:110]}")
        t = result.timings_ms
        print(
            f"\n   model {result.model}, {result.usage.total_tokens} tokens; retrieval "
            f"{t.embed_ms + t.retrieval_ms:.0f} ms, LLM {t.llm_ms:.0f} ms, total {t.total_ms:.0f} ms"
        )
    return 0

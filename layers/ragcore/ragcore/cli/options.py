"""The options ``ragcore ask`` and ``ragcore chat`` share: what a question is asked of (POST
/chat's collection, top_k, mode and filter), where its result is called back, how long to
wait for its answer, and which API.
Declared once so both commands take and check them alike."""

from __future__ import annotations

import argparse
import json
from typing import Any

from ragcore.domain.retrieval import RetrievalMode


def add_question_options(parser: argparse.ArgumentParser, timeout_help: str) -> None:
    """``--timeout`` defaults to None: each command says what waiting means (``timeout_help``)
    and resolves the default itself (``ask --file`` waits longer)."""
    parser.add_argument("--collection", help="default: the API's ('default')")
    parser.add_argument("--top-k", type=int, help="passages to retrieve (1-20; default: the API's, 5)")
    parser.add_argument("--mode", choices=[m.value for m in RetrievalMode], help="default: hybrid")
    parser.add_argument("--filter", type=_json_object, metavar="JSON",
                        help='only passages the filter allows, e.g. \'{"metadata": {"year": {"gte": 2000}}}\' '
                             "(docs/RETRIEVAL.md, Filters)")
    parser.add_argument("--document-id", action="append", metavar="ID",
                        help="only passages of this document (repeatable; added to --filter's document_ids)")
    parser.add_argument("--callback-url", metavar="URL",
                        help="an https URL the service POSTs each answer to, signed, when its job ends "
                             "(docs/WEBHOOKS.md)")
    parser.add_argument("--timeout", type=float, help=timeout_help)


def add_api_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--api", metavar="URL",
                        help="the API (default: $RAGCORE_API_URL, else the `ragcore dev` stack); "
                             "the key comes from $RAGCORE_API_KEY")


def filter_of(args: argparse.Namespace) -> dict[str, Any] | None:
    """``--filter``'s object with ``--document-id``'s ids added to its ``document_ids``; the
    API judges it (its 422 names each bad field)."""
    chat_filter = dict(args.filter or {})
    if args.document_id:
        chat_filter["document_ids"] = [*chat_filter.get("document_ids", []), *args.document_id]
    return chat_filter or None


def _json_object(text: str) -> dict[str, Any]:
    """A filter is an object; a JSON number, list or string is refused here (exit 2, naming
    the option) rather than sent for the API's 422."""
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError("takes a JSON object")
    return value

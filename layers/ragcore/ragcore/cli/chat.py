"""``ragcore chat``: an interactive session through the HTTP API, each question a turn of one
conversation, so a follow-up ("When was it automated?") is answered in the context of the
questions before it.

Questions are read a line at a time from stdin: typed at a terminal (with a ``> `` prompt) or
piped in (``printf 'q1\\nq2\\n' | ragcore chat``). ``/new`` starts a new conversation, an empty
line is skipped, end of input (Ctrl-D) ends the session. Each answer is printed with its
citations and sources, as ``ragcore ask`` prints one, and a follow-up says what it searched for.

Exit codes: 0 at the end of input; 3 the API refused a question (its reason on stderr) or could
not be reached; 130 interrupted. A question whose job fails or runs out of time is reported and
the session goes on.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from typing import TYPE_CHECKING

from ragcore.cli.jobs import DEFAULT_TIMEOUT, EXIT_INTERRUPTED, EXIT_REFUSED, print_answer
from ragcore.domain.retrieval import RetrievalMode

if TYPE_CHECKING:
    from ragcore.client import Client

NEW_CONVERSATION = "/new"


def add_parser(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    chat = commands.add_parser(
        "chat", help="an interactive session: questions from stdin, follow-ups in one conversation")
    chat.add_argument("--conversation", metavar="ID", help="go on with this conversation (default: a new one)")
    chat.add_argument("--collection", help="default: the API's ('default')")
    chat.add_argument("--top-k", type=int, help="passages to retrieve (1-20; default: the API's, 5)")
    chat.add_argument("--mode", choices=[m.value for m in RetrievalMode], help="default: hybrid")
    chat.add_argument("--filter", type=json.loads, metavar="JSON",
                      help='only some documents, as POST /chat\'s filter: \'{"document_ids": ["a"]}\'')
    chat.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT,
                      help=f"seconds to wait for each answer (default {DEFAULT_TIMEOUT:g})")
    chat.add_argument("--api", metavar="URL",
                      help="the API (default: $RAGCORE_API_URL, else the `ragcore dev` stack); "
                           "the key comes from $RAGCORE_API_KEY")


def run(args: argparse.Namespace) -> int:
    from ragcore.client import ApiError, ApiUnreachable, Client, RagcoreError

    logging.getLogger("httpx").setLevel(logging.WARNING)  # no line per poll
    client = Client(args.api)
    try:
        with client:
            return _session(client, args)
    except KeyboardInterrupt:
        return _fail(EXIT_INTERRUPTED, "interrupted")
    except ApiError as exc:
        return _fail(EXIT_REFUSED, f"the API refused the question: {exc}")
    except ApiUnreachable as exc:
        return _fail(EXIT_REFUSED, f"cannot reach the API at {client.base_url}: {exc}")
    except RagcoreError as exc:  # an answer that is not the API's (UnexpectedResponse)
        return _fail(EXIT_REFUSED, f"unexpected answer from {client.base_url}: {exc}")


def _session(client: "Client", args: argparse.Namespace) -> int:
    interactive = sys.stdin.isatty()
    conversation_id: str | None = args.conversation
    while True:
        if interactive:
            print("> ", end="", file=sys.stderr, flush=True)
        line = sys.stdin.readline()
        if not line:
            return 0
        question = line.strip()
        if not question:
            continue
        if question == NEW_CONVERSATION:
            conversation_id = None
            print("(a new conversation)", file=sys.stderr)
            continue
        conversation_id = _turn(client, args, question, conversation_id)


def _turn(client: "Client", args: argparse.Namespace, question: str,
          conversation_id: str | None) -> str | None:
    """Asks one question and prints its answer; the conversation it is a turn of."""
    from ragcore.cli.status_line import StatusLine
    from ragcore.client import JobFailed, JobStopped, WaitTimeout, calls

    started = time.monotonic()
    accepted = client.submit(question, collection=args.collection, top_k=args.top_k, mode=args.mode,
                             filter=args.filter, conversation_id=conversation_id, timeout=args.timeout)
    if accepted.conversation_id and accepted.conversation_id != conversation_id:
        print(f"(conversation {accepted.conversation_id}: `ragcore chat --conversation "
              f"{accepted.conversation_id}` goes on with it)", file=sys.stderr)
    try:
        with StatusLine(f"job {accepted.job_id}", sys.stderr) as line:
            line.show(accepted.status)
            left = max(0.0, args.timeout - (time.monotonic() - started))
            answer = calls.chat_answer(client.wait(accepted.job_id, timeout=left, on_status=line.show),
                                       accepted.job_id)
    except (JobFailed, JobStopped) as exc:
        print(f"(no answer: {exc.message})", file=sys.stderr)
    except WaitTimeout:
        print(f"(no answer within {args.timeout:g} s; `ragcore result {accepted.job_id}` shows it later)",
              file=sys.stderr)
    else:
        print_answer(answer)
        if answer.standalone_query and answer.standalone_query != question:
            print(f"  (searched for: {answer.standalone_query})")
    print()
    sys.stdout.flush()
    return accepted.conversation_id or conversation_id


def _fail(code: int, message: str) -> int:
    print(f"ragcore: {' '.join(message.split())}", file=sys.stderr)
    return code

"""``ragcore chat``: an interactive session through the HTTP API, each question a turn of one
conversation, so a follow-up ("When was it automated?") is answered in the context of the
questions before it.

Questions are read a line at a time from stdin: typed at a terminal (with a ``> `` prompt) or
piped in (``printf 'q1\\nq2\\n' | ragcore chat``). ``/new`` starts a new conversation, an empty
line is skipped, end of input (Ctrl-D) ends the session. Each answer is printed with its
citations and sources, as ``ragcore ask`` prints one, and a follow-up says what it searched for.

A question the API refuses (a 422 such as an over-long question or a bad ``--filter``, a 429)
is reported on stderr and the session goes on; when the conversation is gone (expired or
deleted: 404 ``conversation_not_found``) or full (409 ``conversation_full``), the next question
starts a new one. A question whose job fails or runs out of time is reported too, and the
session goes on in the same conversation.

Exit codes: 0 at the end of input; 3 the API cannot be reached, or refuses the key (401, 403),
as it would every question; 130 interrupted.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import TYPE_CHECKING

from ragcore.cli.jobs import DEFAULT_TIMEOUT, print_answer, refusal, wait_shown, with_client
from ragcore.cli.options import add_api_option, add_question_options, filter_of

if TYPE_CHECKING:
    from ragcore.client import Client

NEW_CONVERSATION = "/new"
CONVERSATION_GONE = ("conversation_not_found", "conversation_full")


def add_parser(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    chat = commands.add_parser(
        "chat", help="an interactive session: questions from stdin, follow-ups in one conversation")
    chat.add_argument("--conversation", metavar="ID", help="go on with this conversation (default: a new one)")
    add_question_options(chat, f"seconds to wait for each answer (default {DEFAULT_TIMEOUT:g})")
    chat.set_defaults(timeout=DEFAULT_TIMEOUT)
    add_api_option(chat)


def run(args: argparse.Namespace) -> int:
    return with_client(args, _session)


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
    from ragcore.client import ApiError, Forbidden, JobFailed, JobStopped, Unauthorized, WaitTimeout, calls

    started = time.monotonic()
    try:
        accepted = client.submit(question, collection=args.collection, top_k=args.top_k, mode=args.mode,
                                 filter=filter_of(args), conversation_id=conversation_id, timeout=args.timeout,
                                 callback_url=args.callback_url)
    except (Unauthorized, Forbidden):
        raise  # every question would be refused alike: the session ends (exit 3)
    except ApiError as exc:
        print(f"(the API refused the question: {refusal(exc)})", file=sys.stderr)
        if exc.code not in CONVERSATION_GONE:
            return conversation_id
        print("(a new conversation starts with the next question)", file=sys.stderr)
        return None
    if accepted.conversation_id and accepted.conversation_id != conversation_id:
        print(f"(conversation {accepted.conversation_id}: `ragcore chat --conversation "
              f"{accepted.conversation_id}` goes on with it)", file=sys.stderr)
    try:
        left = max(0.0, args.timeout - (time.monotonic() - started))
        answer = calls.chat_answer(wait_shown(client, accepted, left, live=True), accepted.job_id)
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

"""A follow-up question as a standalone retrieval query: "When was it automated?" after
"When was Skerry Point Lighthouse first lit?" searches for the lighthouse's automation.

The LLM rewrites the question from the conversation's latest answered turns, with a short,
bounded prompt and a small time budget. A rewrite that does not come in time, fails, or does
not read as a query (more than a line's worth, citation markers, no word in common with the
conversation) is replaced by the fallback: the question followed by the previous question's
names (or content words) that it lacks, which name the subject a pronoun stood for often enough for
hybrid retrieval (the BM25 half matches the names). The rewrite's tokens and time are returned
with the query: the job's result counts them in its usage and timings. Costs:
docs/CONVERSATIONS.md.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass

from ragcore.domain.answers import Completion
from ragcore.domain.attribution import content_words, tokens
from ragcore.domain.conversations import HISTORY_TEXT_BYTES, Turn
from ragcore.domain.errors import AnswerGenerationError, DependencyUnavailableError
from ragcore.ports import ChatModel
from ragcore.services.prompting import cut_text, neutralised, without_citations

log = logging.getLogger(__name__)

# The most time a rewrite may take; a follow-up is answered with the fallback after it.
REWRITE_SECONDS = 3.0
# Below this much time left in the invocation, the fallback is used without asking.
MIN_REWRITE_SECONDS = 0.5
# A question longer than this is sent as it is: it carries its own context, and the rewrite
# prompt stays small (at most 2,672 bytes, so tokens, in all: tests/unit/test_standalone_query.py).
MAX_REWRITTEN_QUESTION_BYTES = 600
# A rewrite longer than this (or than the question and the earlier questions together) is
# not a query but the model talking.
MAX_REWRITE_CHARS = 400

REWRITE_INSTRUCTION = (
    "Rewrite the last question so that it can be understood without the conversation: replace "
    "words like 'it', 'they' or 'there' with what they refer to. Reply with the rewritten "
    "question only, on one line."
)
# A worked example, as the answer prompt has: small models follow one far better than a rule.
EXAMPLE_CONVERSATION = (
    "Conversation:\nQuestion: Who designed the Harbour Bridge?\nAnswer: John Bradfield designed it.\n\n"
    "Last question: When did it open?"
)
EXAMPLE_REWRITE = "When did the Harbour Bridge open?"
_PREFIX = re.compile(r"^(?:(?:standalone|rewritten|search)\s+)?(?:query|question)\s*:\s*", re.IGNORECASE)
_CITATION_MARK = re.compile(r"\[\d")


@dataclass(frozen=True)
class StandaloneQuery:
    """What retrieval searches for, and what asking the LLM for it cost: its reply (None when
    it was not asked or the call failed) and the call's time (0 when it was not asked)."""

    text: str
    completion: Completion | None = None
    seconds: float = 0.0


def standalone_query(question: str, history: list[Turn], chat: ChatModel, seconds: float) -> StandaloneQuery:
    """``question`` as retrieval should search for it, given the conversation's latest answered
    turns (``history``, oldest first; none: the question itself)."""
    if not history:
        return StandaloneQuery(question)
    if len(question.encode()) > MAX_REWRITTEN_QUESTION_BYTES or seconds < MIN_REWRITE_SECONDS:
        return StandaloneQuery(fallback_query(question, history))
    started = time.perf_counter()
    try:
        completion = chat.complete(rewrite_messages(question, history), min(REWRITE_SECONDS, seconds))
    except (DependencyUnavailableError, AnswerGenerationError) as exc:
        log.warning("follow-up not rewritten by the LLM, the fallback is used: %s", exc)
        return StandaloneQuery(fallback_query(question, history), None, time.perf_counter() - started)
    elapsed = time.perf_counter() - started
    rewritten = usable_rewrite(completion.text, question, history)
    if rewritten is None:
        log.info("the LLM's rewrite of a follow-up was not usable; the fallback is used")
        return StandaloneQuery(fallback_query(question, history), completion, elapsed)
    return StandaloneQuery(rewritten, completion, elapsed)


def rewrite_messages(question: str, history: list[Turn]) -> list[dict[str, str]]:
    """The earlier questions and the last answer, each cut to ``HISTORY_TEXT_BYTES``, then the
    question: at most ``HISTORY_TURNS`` x 400 + 400 + 600 bytes besides the fixed text."""
    lines = [f"Question: {cut_text(neutralised(turn.question), HISTORY_TEXT_BYTES)}" for turn in history]
    answer = without_citations(history[-1].answer or "")
    lines.append(f"Answer: {cut_text(neutralised(answer), HISTORY_TEXT_BYTES)}")
    conversation = "\n".join(lines)
    return [
        {"role": "system", "content": REWRITE_INSTRUCTION},
        {"role": "user", "content": EXAMPLE_CONVERSATION},
        {"role": "assistant", "content": EXAMPLE_REWRITE},
        {"role": "user", "content": f"Conversation:\n{conversation}\n\nLast question: {neutralised(question)}"},
    ]


def usable_rewrite(text: str, question: str, history: list[Turn]) -> str | None:
    """The rewrite's query, or None if the reply is not a rewrite: empty, longer than a query,
    with citation markers, a statement where a question was asked (the model answering, not
    rewriting), the question's own words again (the model echoing: the bundled model's most
    common reply, bench/conversation_turns.py), or sharing no content word with the question
    and the earlier questions (about something else)."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    if not lines:
        return None
    query = _PREFIX.sub("", lines[0]).strip().strip("\"'`").strip()
    asked = " ".join([question, *(turn.question for turn in history)])
    if not query or len(query) > min(MAX_REWRITE_CHARS, len(asked) + 100) or _CITATION_MARK.search(query):
        return None
    if question.rstrip().endswith("?") and not query.endswith("?"):
        return None
    words = set(content_words(query))
    if words <= set(content_words(question)) or not words & set(content_words(asked)):
        return None
    return query


def fallback_query(question: str, history: list[Turn]) -> str:
    """The question, then the previous question's names (capitalised words but its first) that
    it lacks, or its content words when it has no names, as written and in their order: "When
    was it automated? Skerry Point Lighthouse". Names, when there are some, because they are
    what a pronoun stands for; the previous question's other words ("first lit") would pull
    retrieval, and the extractive answer, back to what was asked before."""
    have = set(content_words(question))
    written = [(i, token, content_words(token)) for i, token in enumerate(tokens(history[-1].question))]
    candidates = [(token, words) for _, token, words in written if words]
    names = [(token, words) for i, token, words in written if words and i and token[0].isupper()
             and not token[0].isdigit()]
    added: list[str] = []
    for token, words in names or candidates:
        if words[0] not in have:
            have.add(words[0])
            added.append(token)
    return " ".join([question, *added])

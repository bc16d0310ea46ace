"""Answers whose attribution is right by construction (``ANSWER_MODE=extractive``).

A small model that writes freely states the wrong subject, cites the wrong passage and never
declines (docs/ANSWERS.md measures SmolLM2-135M). Here the service chooses the passage sentence
that answers the question, and the model may only reword that one sentence: its wording is kept
when the citation check accepts it (the same facts, numbers and names, the same passage), and
the sentence is quoted verbatim otherwise. When no retrieved sentence answers the question the
service declines instead of guessing. A rewording the LLM cannot give (slow, unreachable,
rate-limited, empty) is skipped: the quote is a whole answer.

A sentence answers when it is close to the question (the embedder's similarity and the share of
the question's content words found in it or its passage's heading trail), shares at least one
of the question's words besides the names its passage is titled with and the words that only
say what kind of answer is wanted ("year", "name"): the sentence about the lighthouse's
headland does not answer who *designed* the lighthouse. And it holds what the question asks
for: a number for "when", "how many" and the like, a name for "who".
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass

import numpy as np

from ragcore.domain.answers import AnswerMethod, Completion, Passage
from ragcore.domain.attribution import Cited, Terms, content_words, coverage, terms, tokens, with_citations
from ragcore.domain.errors import AnswerGenerationError, DependencyUnavailableError
from ragcore.ports import ChatModel, Embedder
from ragcore.services.citation_check import CheckedAnswer, PassageEvidence, check_citations
from ragcore.services.prompting import neutralised

# The least relevance (similarity and coverage, equally weighted) a quoted sentence needs:
# chosen on samples/questions/dev.jsonl, where 0.5 declined 14 of 55 answerable questions
# (docs/ANSWERS.md, with the rules below it was refined with).
ANSWERS = 0.35
# A rewording is a nicety: it gets this long at most (the bundled model needs about a second).
REWORD_SECONDS = 15.0
log = logging.getLogger(__name__)
DECLINED = "The documents do not answer this question."
REPHRASE_INSTRUCTION = (
    "Answer the question in one short sentence using only the quoted sentence. "
    "Keep its numbers and names exactly. End with the citation {marker}."
)
# What a question asks for, read from how it starts ("how far" inside a question asks nothing).
_WANTS_NUMBER = re.compile(
    r"^(?:(?:in|until|since|by|from|for|at|to) )?(?:when|what year|which year|what date|which decade|"
    r"what decade|which century|how (?:many|much|tall|high|long|far|old|deep|wide|fast|big|large|heavy)"
    # a measure ("at what oven temperature", "what is the farthest ...")
    r"|what (?:\w+ )?(?:temperature|distance|height|length|width|depth|weight|size|age|cost|price|speed|"
    r"percentage|proportion|ratio)|what (?:is|was|are|were) the (?:farthest|furthest|longest|shortest|"
    r"largest|smallest|highest|lowest|maximum|minimum|greatest))\b",
    re.IGNORECASE,
)
_WANTS_NAME = re.compile(r"^(?:who|whom|whose)\b|^what (?:is|was|are|were) (?:the )?names?\b", re.IGNORECASE)
# Words that say what kind of answer is wanted rather than what it is about.
_ANSWER_KINDS = frozenset("year date day decade century time name kind type number part get got".split())
_NOT_NAMES = frozenset(
    "january february march april may june july august september october november december "
    "monday tuesday wednesday thursday friday saturday sunday".split()
)


@dataclass(frozen=True)
class Choice:
    n: int  # the passage's citation number
    sentence: str
    relevance: float


@dataclass(frozen=True)
class Extracted:
    checked: CheckedAnswer
    method: AnswerMethod
    completion: Completion | None  # the model's rewording, when it was asked for one
    llm_seconds: float = 0.0


def extractive_answer(question: str, passages: list[Passage], embedder: Embedder, chat: ChatModel | None,
                      timeout: float | None = None) -> Extracted:
    evidence = PassageEvidence.of(passages, embedder)
    choice = choose(question, evidence, embedder)
    if choice is None:
        return Extracted(check_citations(DECLINED, passages, embedder, evidence), AnswerMethod.DECLINED, None)
    quoted = with_citations(Cited(choice.sentence, (), None), [choice.n])

    def as_quoted(completion: Completion | None = None, llm_seconds: float = 0.0) -> Extracted:
        checked = check_citations(quoted, passages, embedder, evidence)
        return Extracted(checked, AnswerMethod.QUOTED, completion, llm_seconds)

    if chat is None:
        return as_quoted()
    started = time.perf_counter()
    try:
        limit = REWORD_SECONDS if timeout is None else min(timeout, REWORD_SECONDS)
        completion = chat.complete(rephrase_prompt(question, choice), limit)
    except (DependencyUnavailableError, AnswerGenerationError) as exc:
        # The quote is a whole answer: an LLM that is slow, unreachable or gives nothing usable
        # costs the wording, not the job.
        log.warning("rewording skipped, the sentence is quoted: %s", exc)
        return as_quoted(llm_seconds=time.perf_counter() - started)
    llm_seconds = time.perf_counter() - started
    reworded = check_citations(completion.text, passages, embedder, evidence)
    if accepted(reworded, choice, question, evidence.terms[choice.n - 1]):
        return Extracted(reworded, AnswerMethod.REPHRASED, completion, llm_seconds)
    return as_quoted(completion, llm_seconds)


def choose(question: str, evidence: PassageEvidence, embedder: Embedder) -> Choice | None:
    """The most relevant passage sentence that holds what the question asks for, or None."""
    asked = terms(question)
    about = asked.words - asked.numbers - _ANSWER_KINDS
    vector = np.asarray(embedder.embed([question])[0], dtype=np.float32)
    best: Choice | None = None
    seen: set[str] = set()
    for n, (sentences, rows, trail) in enumerate(
        zip(evidence.sentences, evidence.sentence_vectors, evidence.trails), start=1
    ):
        titled = terms(trail).words
        predicates = about - (asked.names & titled)
        for sentence, row in zip(sentences, rows):
            if sentence in seen or not holds_kind(question, sentence):
                continue  # overlapping chunks repeat sentences: the higher-ranked passage keeps it
            seen.add(sentence)
            said = terms(sentence).words
            if predicates and not predicates & said:
                continue
            found = Terms(said | titled, frozenset(), frozenset())  # the sentence read with its trail
            relevance = 0.5 * max(float(row @ vector), 0.0) + 0.5 * coverage(asked, found)
            if relevance >= ANSWERS and (best is None or relevance > best.relevance):
                best = Choice(n, sentence, round(relevance, 4))
    return best


def holds_kind(question: str, sentence: str) -> bool:
    """A number for a question that asks for one; a name the question does not already use
    (a month is a date, not a name) for one that asks who."""
    said = terms(sentence)
    if _WANTS_NUMBER.search(question.strip()):
        return bool(said.numbers)
    if _WANTS_NAME.search(question.strip()):
        return bool(said.names - terms(question).words - _NOT_NAMES)
    return True


def rephrase_prompt(question: str, choice: Choice) -> list[dict[str, str]]:
    marker = f"[{choice.n}]"
    return [
        {"role": "system", "content": REPHRASE_INSTRUCTION.format(marker=marker)},
        {"role": "user", "content": (
            f'Quoted sentence {marker}: "{neutralised(choice.sentence)}"\n\nQuestion: {neutralised(question)}'
        )},
    ]


def accepted(reworded: CheckedAnswer, choice: Choice, question: str, source: Terms) -> bool:
    """The rewording is supported sentences citing only the chosen passage, in words of that
    passage and the question only (a small model adds "The answer is:" or words of its own);
    its numbers are the chosen sentence's (or the question's), and it keeps one of the
    sentence's own when the sentence has any (a small model drops or swaps the very date asked
    for); it says something the question did not, takes the sentence's words in the sentence's
    order and adds no negation ("It was automated in 1991, when it was first lit" and "It was
    not lit until 1991" use the sentence's words and are both wrong); and it still holds what
    the question asks for. Word sets cannot prove a paraphrase faithful: these refuse the ways
    the bundled model was seen to go wrong (docs/ANSWERS.md), and anything else is quoted."""
    text = " ".join(s.text for s in reworded.sentences)
    said = terms(text)
    asked, chosen = terms(question), terms(choice.sentence)
    return (
        bool(reworded.sentences)
        and all(s.supported and s.citations == [choice.n] for s in reworded.sentences)
        and said.words <= source.words | asked.words
        and said.numbers <= chosen.numbers | asked.numbers
        and (not chosen.numbers - asked.numbers or bool(said.numbers & (chosen.numbers - asked.numbers)))
        and bool((said.words & chosen.words) - asked.words)
        and _in_order(text, choice.sentence)
        and _negations(text) <= _negations(choice.sentence)
        and holds_kind(question, text)
    )


def _in_order(text: str, sentence: str) -> bool:
    """The sentence's content words that ``text`` uses appear in it in the sentence's order."""
    order = {word: i for i, word in reversed(list(enumerate(content_words(sentence))))}
    positions = [order[word] for word in content_words(text) if word in order]
    return positions == sorted(positions)


def _negations(text: str) -> set[str]:
    return {token.lower().replace("’", "'") for token in tokens(text)} & _NEGATIONS


_NEGATIONS = frozenset({"not", "no", "never", "none", "nor", "without", "isn't", "wasn't", "didn't", "doesn't",
                        "cannot", "can't", "won't", "unlike"})

"""Answers whose attribution is right by construction (``ANSWER_MODE=extractive``).

A small model that writes freely states the wrong subject, cites the wrong passage and never
declines (docs/ANSWERS.md measures SmolLM2-135M). Here the service chooses the passage sentence
that answers the question, and the model may only reword that one sentence: its wording is kept
when the citation check accepts it (the same facts, numbers and names, the same passage), and
the sentence is quoted verbatim otherwise. When no retrieved sentence answers the question the
service declines instead of guessing.

A sentence answers when it is close to the question (the embedder's similarity and the share of
the question's content words found in it or its passage's heading trail) and holds what the
question asks for: a number for "when", "how many" and the like, a name for "who".
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

import numpy as np

from ragcore.domain.answers import AnswerMethod, Completion, Passage
from ragcore.domain.attribution import Cited, Terms, coverage, missing_facts, terms, with_citations
from ragcore.ports import ChatModel, Embedder
from ragcore.services.citation_check import CheckedAnswer, PassageEvidence, check_citations
from ragcore.services.prompting import neutralised

ANSWERS = 0.5  # the least relevance (similarity and coverage, equally weighted) a quoted sentence needs
DECLINED = "The documents do not answer this question."
REPHRASE_INSTRUCTION = (
    "Answer the question in one short sentence using only the quoted sentence. "
    "Keep its numbers and names exactly. End with the citation {marker}."
)
_WANTS_NUMBER = re.compile(
    r"\b(?:when|what year|which year|what date|how (?:many|much|tall|high|long|far|old|deep|wide|often|fast|big|large|heavy))\b",
    re.IGNORECASE,
)
_WANTS_NAME = re.compile(r"\bwho(?:m|se)?\b", re.IGNORECASE)


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
    if chat is None:
        return Extracted(check_citations(quoted, passages, embedder, evidence), AnswerMethod.QUOTED, None)
    started = time.perf_counter()
    completion = chat.complete(rephrase_prompt(question, choice), timeout)
    llm_seconds = time.perf_counter() - started
    reworded = check_citations(completion.text, passages, embedder, evidence)
    if accepted(reworded, choice, question, evidence.terms[choice.n - 1]):
        return Extracted(reworded, AnswerMethod.REPHRASED, completion, llm_seconds)
    return Extracted(check_citations(quoted, passages, embedder, evidence), AnswerMethod.QUOTED, completion,
                     llm_seconds)


def choose(question: str, evidence: PassageEvidence, embedder: Embedder) -> Choice | None:
    """The most relevant passage sentence that holds what the question asks for, or None."""
    asked = terms(question)
    vector = np.asarray(embedder.embed([question])[0], dtype=np.float32)
    best: Choice | None = None
    seen: set[str] = set()
    for n, (sentences, rows, trail) in enumerate(
        zip(evidence.sentences, evidence.sentence_vectors, evidence.trails), start=1
    ):
        for sentence, row in zip(sentences, rows):
            if sentence in seen or not holds_kind(question, sentence):
                continue  # overlapping chunks repeat sentences: the higher-ranked passage keeps it
            seen.add(sentence)
            found = terms(f"{trail} {sentence}")
            relevance = 0.5 * max(float(row @ vector), 0.0) + 0.5 * coverage(asked, found)
            if relevance >= ANSWERS and (best is None or relevance > best.relevance):
                best = Choice(n, sentence, round(relevance, 4))
    return best


def holds_kind(question: str, sentence: str) -> bool:
    said = terms(sentence)
    if _WANTS_NUMBER.search(question):
        return bool(said.numbers)
    if _WANTS_NAME.search(question):
        return bool(said.names)
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
    """The rewording is one or more supported sentences citing only the chosen passage, stating
    no number or name that passage lacks, and still holding what the question asks for."""
    return (
        bool(reworded.sentences)
        and all(s.supported and s.citations == [choice.n] for s in reworded.sentences)
        and all(not missing_facts(terms(s.text), source) for s in reworded.sentences)
        and holds_kind(question, " ".join(s.text for s in reworded.sentences))
    )


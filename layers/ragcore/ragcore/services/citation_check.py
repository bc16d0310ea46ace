"""The citation check: after the LLM answers, every ``[n]`` is held to the passage it names.

A citation whose passage does not support its sentence (``domain/attribution.py``) moves to the
passage that does, or is removed and the sentence marked unsupported; a number outside the
passages sent never reaches the client; a sentence the model left uncited gets the passage
that supports it. The model's words are never changed: only the markers move.

Cost: one embedder call over the answer's sentences and the passages' sentences. The answer is
at most ``LLM_MAX_TOKENS`` (400 by default: about 30 sentences) and the passages at most
``top_k`` (20) chunks of at most 2,000 characters (about 22 sentences each), so the worst case
is about 470 short texts: 3.6 s on one core, against 63 ms for the demo's answer over 3
passages (``bench/citation_check.py``, 2-core machine shared with other work).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from ragcore.domain.abstention import declines
from ragcore.domain.answers import AnswerSentence, Passage
from ragcore.domain.attribution import (
    SUPPORTED, Cited, Terms, cited_sentences, support, terms, with_citations,
)
from ragcore.domain.sentences import split_sentences
from ragcore.ports import Embedder


@dataclass(frozen=True)
class CheckedAnswer:
    text: str  # the answer with its citations as the check left them
    sentences: list[AnswerSentence]
    grounded: float | None  # supported claims / claims; None when the answer makes no claim
    abstained: bool
    seconds: float  # what the check took (passages' embeddings included when it made them)


@dataclass(frozen=True)
class PassageEvidence:
    """The passages sent to the model, as the check compares sentences with them."""

    terms: list[Terms]  # per passage, its heading trail included
    trails: list[str]  # per passage, its heading trail ("Title › Section")
    sentences: list[list[str]]  # per passage
    sentence_vectors: list[np.ndarray]  # per passage: one row per sentence

    @classmethod
    def of(cls, passages: list[Passage], embedder: Embedder) -> "PassageEvidence":
        trails, pieces = zip(*(passage_parts(p.text) for p in passages)) if passages else ((), ())
        vectors = _vectors(embedder, [s for sentences in pieces for s in sentences])
        rows, start = [], 0
        for sentences in pieces:
            rows.append(vectors[start : start + len(sentences)])
            start += len(sentences)
        return cls([terms(p.text) for p in passages], list(trails), list(pieces), rows)

    def supports(self, claim: str, vector: np.ndarray) -> list[float]:
        """The support each passage gives ``claim`` (index 0 is passage [1])."""
        claim_terms = terms(claim)
        return [
            support(float(np.max(rows @ vector)) if len(rows) else 0.0, claim_terms, passage_terms)
            for rows, passage_terms in zip(self.sentence_vectors, self.terms)
        ]


def check_citations(answer: str, passages: list[Passage], embedder: Embedder,
                    evidence: PassageEvidence | None = None) -> CheckedAnswer:
    started = time.perf_counter()
    evidence = evidence or PassageEvidence.of(passages, embedder)
    lines = [cited_sentences(line) for line in answer.split("\n")]
    every = [s for line in lines for s in line]
    claims = [s for s in every if not declines(s.text)]
    vectors = dict(zip((id(s) for s in claims), _vectors(embedder, [s.text for s in claims])))
    judged: dict[int, AnswerSentence] = {}
    for sentence in every:
        if id(sentence) in vectors:
            judged[id(sentence)] = _judge(sentence, evidence.supports(sentence.text, vectors[id(sentence)]))
        else:
            judged[id(sentence)] = AnswerSentence(
                text=sentence.text, citations=[], model_citations=list(sentence.citations), support=0.0,
                supported=False, changed=bool(sentence.citations), declines=True,
            )
    sentences = [judged[id(s)] for s in every]
    text = "\n".join(
        " ".join(with_citations(s, judged[id(s)].citations) for s in line) for line in lines
    )
    made = [s for s in sentences if not s.declines]
    grounded = round(sum(s.supported for s in made) / len(made), 4) if made else None
    # An answer that declines and backs no claim has abstained; one that declines a part but
    # states a supported fact has answered.
    abstained = any(s.declines for s in sentences) and not any(s.supported for s in made)
    return CheckedAnswer(text, sentences, grounded, abstained, time.perf_counter() - started)


def passage_parts(text: str) -> tuple[str, list[str]]:
    """A chunk's heading trail (its first line, when it has more) and its sentences."""
    trail, _, body = text.partition("\n")
    if not body.strip():
        return "", split_sentences(trail)
    return trail, split_sentences(body)


def _judge(sentence: Cited, supports: list[float]) -> AnswerSentence:
    """Keep the cited passages that support the sentence; when none does, cite the best one
    that does (if any); a number outside the passages is dropped either way."""
    valid = range(1, len(supports) + 1)
    kept = [n for n in sentence.citations if n in valid and supports[n - 1] >= SUPPORTED]
    if not kept and supports:
        best = int(np.argmax(supports)) + 1
        kept = [best] if supports[best - 1] >= SUPPORTED else []
    score = max((supports[n - 1] for n in kept), default=max(supports, default=0.0))
    return AnswerSentence(
        text=sentence.text, citations=kept, model_citations=list(sentence.citations),
        support=round(score, 4), supported=bool(kept), changed=kept != list(sentence.citations),
    )


def _vectors(embedder: Embedder, texts: list[str]) -> np.ndarray:
    if not texts:
        return np.zeros((0, embedder.dimension), dtype=np.float32)
    return np.asarray(embedder.embed(texts), dtype=np.float32)

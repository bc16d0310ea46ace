"""The citation check: after the LLM answers, every ``[n]`` is held to the passage it names.

A citation whose passage does not support its sentence (``domain/attribution.py``) moves to the
passage that does, or is removed and the sentence marked unsupported; a number outside the
passages sent never reaches the client; a sentence the model left uncited gets the passage
that supports it. A sentence citing several passages may draw on them together (its date from
one, its height from another). The model's words are never changed: only the markers move.

Cost: one embedder call over the answer's sentences and the passages' sentences. The answer is
at most ``LLM_MAX_TOKENS`` (400 by default: about 30 sentences) and the passages at most
``top_k`` (20) chunks of at most 2,000 characters (about 22 sentences each), so the worst case
is about 470 short texts: 1.5-1.6 s on one core, against 24 ms for the demo's answer over 3
passages (``bench/citation_check.py``, two runs on the quiet 2-core machine; 3.6 s when other
work loaded it). ``CHECK_SECONDS`` is kept back from the LLM call's time for it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ragcore.domain.abstention import declines
from ragcore.domain.answers import AnswerSentence, Passage
from ragcore.domain.attribution import (
    SUPPORTED, Cited, Terms, cited_sentences, support, terms, with_citations,
)
from ragcore.domain.sentences import split_sentences
from ragcore.ports import Embedder

CHECK_SECONDS = 4.0  # the worst case above on a loaded machine, kept back from the LLM call's time
_LABELS = frozenset({"source", "reference", "citation", "passage"})  # "Sources: [1], [2]" claims nothing


@dataclass(frozen=True)
class CheckedAnswer:
    text: str  # the answer with its citations as the check left them
    sentences: list[AnswerSentence]
    grounded: float | None  # supported claims / claims; None when the answer makes no claim
    abstained: bool


@dataclass(frozen=True)
class PassageEvidence:
    """The passages sent to the model, as the check compares sentences with them."""

    terms: list[Terms]  # per passage, its heading trail included
    trails: list[str]  # per passage, its heading trail ("Title › Section")
    sentences: list[list[str]]  # per passage
    sentence_vectors: list[np.ndarray]  # per passage: one row per sentence

    @classmethod
    def of(cls, passages: list[Passage], embedder: Embedder) -> "PassageEvidence":
        trails, pieces = zip(*(_passage_parts(p.text) for p in passages)) if passages else ((), ())
        vectors = _vectors(embedder, [s for sentences in pieces for s in sentences])
        rows, start = [], 0
        for sentences in pieces:
            rows.append(vectors[start : start + len(sentences)])
            start += len(sentences)
        return cls([terms(p.text) for p in passages], list(trails), list(pieces), rows)

    def similarities(self, vector: np.ndarray) -> list[float]:
        """Per passage (index 0 is [1]), the cosine of its closest sentence to ``vector``."""
        return [float(np.max(rows @ vector)) if len(rows) else 0.0 for rows in self.sentence_vectors]


def check_citations(answer: str, passages: list[Passage], embedder: Embedder,
                    evidence: PassageEvidence | None = None) -> CheckedAnswer:
    evidence = evidence or PassageEvidence.of(passages, embedder)
    lines = _lines(answer)
    every = [s for line in lines for s in line]
    vectors = _vectors(embedder, [s.text for s in every])
    judged = [_judge(s, evidence, vector) for s, vector in zip(every, vectors)]
    text, sentences = _render(lines, judged)
    claims = [s for s in sentences if s.claim]
    grounded = round(sum(s.supported for s in claims) / len(claims), 4) if claims else None
    # An answer that declines and backs no claim has abstained; one that declines a part but
    # states a supported fact has answered.
    abstained = any(s.declines for s in sentences) and not any(s.supported for s in claims)
    return CheckedAnswer(text, sentences, grounded, abstained)


def _passage_parts(text: str) -> tuple[str, list[str]]:
    """A chunk's heading trail (its first line, when it has more) and its sentences."""
    trail, _, body = text.partition("\n")
    if not body.strip():
        return "", split_sentences(trail)
    return trail, split_sentences(body)


def _lines(answer: str) -> list[list[Cited]]:
    """The answer's sentences line by line. Markers with no words of their own (a line of
    markers, a sentence of markers only) belong to the sentence before them."""
    lines: list[list[Cited]] = []
    last: tuple[list[Cited], int] | None = None  # the last sentence with words: its line, its index
    for raw in answer.split("\n"):
        line: list[Cited] = []
        lines.append(line)
        for sentence in cited_sentences(raw):
            if last is not None and not sentence.text.strip(".!?,;: "):
                host_line, index = last
                host = host_line[index]
                host_line[index] = Cited(
                    host.text, tuple(dict.fromkeys(host.citations + sentence.citations)), host.marker_at
                )
            else:
                line.append(sentence)
                last = (line, len(line) - 1)
    return lines


def _judge(sentence: Cited, evidence: PassageEvidence, vector: np.ndarray) -> AnswerSentence:
    """Keep the cited passages that support the sentence, alone or together; when none does,
    cite the best one that does (if any); a number outside the passages is dropped either way.
    A sentence with no content words ("Sources:") or one that declines without support makes
    no claim."""
    said = terms(sentence.text)
    similarity = evidence.similarities(vector)
    scores = [support(sim, said, passage) for sim, passage in zip(similarity, evidence.terms)]
    valid = [n for n in sentence.citations if 1 <= n <= len(scores)]
    kept = [n for n in valid if scores[n - 1] >= SUPPORTED]
    score = max((scores[n - 1] for n in kept), default=0.0)
    if not kept and len(valid) > 1:
        kept, score = _together(said, valid, similarity, evidence.terms)
    declining = declines(sentence.text)
    if not kept and scores and said.words and not declining:  # a decline is never given a source
        best = int(np.argmax(scores)) + 1
        kept, score = ([best], scores[best - 1]) if scores[best - 1] >= SUPPORTED else ([], max(scores))
    claim = bool(said.words - _LABELS) and not (declining and not kept)
    if not claim:
        kept = [] if declining else valid  # a decline cites nothing; "Sources: [1]" keeps real numbers
    return AnswerSentence(
        text=sentence.text, citations=kept, model_citations=list(sentence.citations),
        support=round(score if claim else 0.0, 4), supported=claim and bool(kept),
        changed=kept != list(sentence.citations), declines=declining, claim=claim,
    )


def _together(said: Terms, cited: list[int], similarity: list[float], passages: list[Terms]) -> tuple[list[int], float]:
    """Cited passages that back the sentence only together: its numbers and names all in their
    union, its words covered by it, and each of them adding at least one of its words."""
    helping = [n for n in cited if said.words & passages[n - 1].words]
    if len(helping) < 2:
        return [], 0.0
    union = Terms(
        words=frozenset().union(*(passages[n - 1].words for n in helping)),
        numbers=frozenset().union(*(passages[n - 1].numbers for n in helping)),
        names=frozenset(),
    )
    score = support(max(similarity[n - 1] for n in helping), said, union)
    return (helping, score) if score >= SUPPORTED else ([], 0.0)


def _render(lines: list[list[Cited]], judged: list[AnswerSentence]) -> tuple[str, list[AnswerSentence]]:
    """The answer with the check's citations, and each sentence with where it stands in it."""
    parts: list[str] = []
    placed: list[AnswerSentence] = []
    at = 0
    verdicts = iter(judged)
    for number, line in enumerate(lines):
        if number:
            parts.append("\n")
            at += 1
        for index, sentence in enumerate(line):
            if index:
                parts.append(" ")
                at += 1
            verdict = next(verdicts)
            rendered = with_citations(sentence, verdict.citations)
            placed.append(verdict.model_copy(update={"start": at, "end": at + len(rendered)}))
            parts.append(rendered)
            at += len(rendered)
    return "".join(parts), placed


def _vectors(embedder: Embedder, texts: list[str]) -> np.ndarray:
    if not texts:
        return np.zeros((0, embedder.dimension), dtype=np.float32)
    return np.asarray(embedder.embed(texts), dtype=np.float32)

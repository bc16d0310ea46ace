"""Splitting Markdown and plain text into retrieval chunks.

Sections follow headings, and every chunk starts with its heading trail ("Title › Section"),
so a chunk stands alone for both the embedder and BM25. Inside a section, whole sentences are
packed up to a word budget; consecutive chunks share their last sentences as overlap, so a
fact that straddles a boundary is whole in at least one chunk. A sentence longer than the
budget is cut at word boundaries.

The budget is small on purpose: all-MiniLM-L6-v2 was trained on sentence pairs and embeds
short passages best (SciFact dense nDCG@10: 0.682 at 160 words, 0.687 at 100, 0.705 at 60;
docs/RETRIEVAL.md), and 60 words plus a heading stay far inside its 256 word-piece window.
BM25 gets the wider view instead: each chunk's ``context`` (the chunk with two neighbours on
each side) is what its sparse vector indexes.

Lengths are bounded too, since the text is anyone's (issue 15): a 20 kB one-word heading was
copied onto each of a document's chunks and reached the LLM in every passage. Each heading is
cut to ``MAX_HEADING_CHARS`` and each chunk to ``MAX_CHUNK_CHARS`` (60 ordinary words are about
400 characters; only "words" such as a base64 run or one letter repeated reach the bound, and
are cut rather than split into more chunks).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ragcore.domain.sentences import split_sentences

MAX_WORDS = 60
OVERLAP_WORDS = 20
CONTEXT_NEIGHBOURS = 2  # chunks on each side that make up a chunk's context
MAX_HEADING_CHARS = 100  # per heading: a trail of six levels stays near 600 characters
MAX_CHUNK_CHARS = 2000  # a chunk's text with its trail; its context gets this per chunk in it

_HEADING = re.compile(r"^(#{1,6})\s+(.*\S)\s*$")


@dataclass(frozen=True)
class TextChunk:
    position: int
    text: str
    # The chunk with its neighbours in the same section: what BM25 indexes for this chunk, so
    # a passage also scores on the words around it (measured in docs/RETRIEVAL.md).
    context: str


@dataclass(frozen=True)
class _Sentence:
    index: int  # position in the section, so overlapping windows can be merged
    paragraph: int
    words: tuple[str, ...]


def title_of(text: str, fallback: str) -> str:
    for line in text.splitlines():
        match = _HEADING.match(line)
        if match and len(match.group(1)) == 1:
            return _cut(match.group(2), MAX_HEADING_CHARS)
    return fallback


def chunk_text(
    text: str,
    max_words: int = MAX_WORDS,
    overlap_words: int = OVERLAP_WORDS,
    neighbours: int = CONTEXT_NEIGHBOURS,
) -> list[TextChunk]:
    if not 0 <= overlap_words < max_words:
        raise ValueError("overlap_words must be at least 0 and less than max_words")
    pieces: list[tuple[str, str]] = []
    context_chars = MAX_CHUNK_CHARS * (2 * neighbours + 1)
    for trail, paragraphs in _sections(text):
        prefix = f"{trail}\n" if trail else ""
        packed = _pack(_sentences(paragraphs, max_words, overlap_words), max_words, overlap_words)
        for i, sentences in enumerate(packed):
            around = {s.index: s for chunk in packed[max(0, i - neighbours) : i + neighbours + 1] for s in chunk}
            pieces.append((
                _cut(prefix + _render(sentences), MAX_CHUNK_CHARS),
                _cut(prefix + _render([around[k] for k in sorted(around)]), context_chars),
            ))
    return [TextChunk(position=i, text=text, context=context) for i, (text, context) in enumerate(pieces)]


def _sections(text: str) -> list[tuple[str, list[str]]]:
    """(heading trail, paragraphs) for each section that has text."""
    sections: list[tuple[str, list[str]]] = [("", [])]
    trail: list[tuple[int, str]] = []
    paragraph: list[str] = []

    def close_paragraph() -> None:
        if paragraph:
            sections[-1][1].append(" ".join(paragraph))
            paragraph.clear()

    for line in text.splitlines():
        match = _HEADING.match(line)
        if match:
            close_paragraph()
            level = len(match.group(1))
            heading = _cut(match.group(2), MAX_HEADING_CHARS)
            trail = [(lvl, name) for lvl, name in trail if lvl < level] + [(level, heading)]
            sections.append((" › ".join(name for _, name in trail), []))
        elif line.strip():
            paragraph.append(line.strip())
        else:
            close_paragraph()
    close_paragraph()
    return [(t, ps) for t, ps in sections if ps]


def _sentences(paragraphs: list[str], max_words: int, overlap_words: int) -> list[_Sentence]:
    sentences: list[_Sentence] = []
    step = max_words - overlap_words
    for number, paragraph in enumerate(paragraphs):
        for sentence in split_sentences(paragraph):
            words = tuple(sentence.split())
            # An over-long sentence becomes overlapping word windows of at most max_words.
            for start in range(0, max(len(words) - overlap_words, 1), step):
                sentences.append(_Sentence(len(sentences), number, words[start : start + max_words]))
    return [s for s in sentences if s.words]


def _pack(sentences: list[_Sentence], max_words: int, overlap_words: int) -> list[list[_Sentence]]:
    """Greedy packing of whole sentences; each new chunk repeats the previous one's trailing
    sentences that fit in ``overlap_words``."""
    chunks: list[list[_Sentence]] = []
    current: list[_Sentence] = []
    for sentence in sentences:
        if current and _words(current) + len(sentence.words) > max_words:
            chunks.append(current)
            current = _tail(current, overlap_words)
            while current and _words(current) + len(sentence.words) > max_words:
                current = current[1:]
        current.append(sentence)
    if current:
        chunks.append(current)
    return chunks


def _tail(sentences: list[_Sentence], budget: int) -> list[_Sentence]:
    tail: list[_Sentence] = []
    for sentence in reversed(sentences):
        if _words(tail) + len(sentence.words) > budget:
            break
        tail.insert(0, sentence)
    return tail


def _words(sentences: list[_Sentence]) -> int:
    return sum(len(s.words) for s in sentences)


def _render(sentences: list[_Sentence]) -> str:
    paragraphs: list[list[str]] = []
    last = None
    for sentence in sentences:
        if sentence.paragraph != last:
            paragraphs.append([])
            last = sentence.paragraph
        paragraphs[-1].append(" ".join(sentence.words))
    return "\n\n".join(" ".join(p) for p in paragraphs)


def _cut(text: str, max_chars: int) -> str:
    return text if len(text) <= max_chars else text[: max_chars - 1] + "…"

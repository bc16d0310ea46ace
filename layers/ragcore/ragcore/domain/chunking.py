"""Splitting Markdown and plain text into retrieval chunks.

Sections follow headings; inside a section, paragraphs are packed up to a word budget that
keeps a chunk within the embedder's 256 word-piece window (about 0.75 words per piece for
English prose). A paragraph longer than the budget is cut at word boundaries.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_WORDS = 160

_HEADING = re.compile(r"^(#{1,6})\s+(.*\S)\s*$")


@dataclass(frozen=True)
class TextChunk:
    position: int
    text: str


def title_of(text: str, fallback: str) -> str:
    for line in text.splitlines():
        match = _HEADING.match(line)
        if match and len(match.group(1)) == 1:
            return match.group(2)
    return fallback


def chunk_text(text: str, max_words: int = MAX_WORDS) -> list[TextChunk]:
    pieces: list[str] = []
    for heading, paragraphs in _sections(text):
        pieces.extend(_pack(heading, paragraphs, max_words))
    return [TextChunk(position=i, text=piece) for i, piece in enumerate(pieces)]


def _sections(text: str) -> list[tuple[str, list[str]]]:
    sections: list[tuple[str, list[str]]] = [("", [])]
    paragraph: list[str] = []

    def close_paragraph() -> None:
        if paragraph:
            sections[-1][1].append(" ".join(paragraph))
            paragraph.clear()

    for line in text.splitlines():
        match = _HEADING.match(line)
        if match:
            close_paragraph()
            sections.append((match.group(2), []))
        elif line.strip():
            paragraph.append(line.strip())
        else:
            close_paragraph()
    close_paragraph()
    return [(h, ps) for h, ps in sections if ps]


def _pack(heading: str, paragraphs: list[str], max_words: int) -> list[str]:
    """Greedy packing; the section heading prefixes every chunk so each one stands alone."""
    prefix = f"{heading}\n" if heading else ""
    chunks: list[str] = []
    current: list[str] = []
    count = 0
    for paragraph in paragraphs:
        words = paragraph.split()
        for start in range(0, len(words), max_words):
            part = words[start : start + max_words]
            if count + len(part) > max_words and current:
                chunks.append(prefix + "\n\n".join(current))
                current, count = [], 0
            current.append(" ".join(part))
            count += len(part)
    if current:
        chunks.append(prefix + "\n\n".join(current))
    return chunks

"""Where one sentence ends and the next begins: the chunker packs documents' sentences with it,
and the citation check judges an answer's sentences one by one.

A rule rather than a library: nltk's Punkt needs its model data at run time and pysbd
splits "[1]." citation markers off into sentences of their own; both texts here are plain
prose, where ". " before a capital, digit, quote or bracket is a sentence end.
"""

from __future__ import annotations

import re

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9(\[\"'])")


def split_sentences(text: str) -> list[str]:
    return [s for s in (piece.strip() for piece in _SENTENCE_END.split(text)) if s]

"""Whether an answer declines to answer: the one list of decline phrases.

The prompt tells the model to say it does not know when the passages lack the answer, and
models word that in many ways ("I don't know", "The passages do not mention ...", "There is
no information about ..."). The citation check sets a result's ``abstained`` flag with
``declines`` and ``ragcore eval answers`` counts declined questions with it, so both read an
answer the same way. A phrase anywhere in the answer counts: an answer that states one fact
and declines another part of the question has still declined something.
"""

from __future__ import annotations

import re
import unicodedata

_NOT = r"(?:not|n't|nt)"  # "do not", "don't", and "dont" as small models write it
_CANNOT = r"(?:can ?not|can'?t|could ?not|couldn'?t|(?:am |are |is )?unable to)"
_SOURCE = r"(?:passages?|sources?|documents?|context|texts?|information (?:given|provided))"
_TELLING = r"(?:say|state|contain|mention|include|give|provide|specify|cover|answer|describe|tell)"
_DECLINE_PHRASES = (
    rf"\b(?:i|we) (?:do|does|did) ?{_NOT} know\b",
    rf"\b(?:i|we) {_CANNOT} (?:answer|tell|say|find|determine)\b",
    rf"\b{_SOURCE} (?:do|does|did) ?{_NOT} {_TELLING}",
    rf"\b{_NOT} (?:mentioned|stated|specified|given|provided|said|included|covered) in the {_SOURCE}",
    r"\bno (?:information|mention|details?)\b",
    r"\b(?:not enough|insufficient) information\b",
    rf"\b{_CANNOT} be (?:answered|determined)\b",
    rf"\b{_CANNOT} answer\b",
)
_DECLINES = re.compile("|".join(f"(?:{phrase})" for phrase in _DECLINE_PHRASES))
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "`": "'"})


def declines(text: str) -> bool:
    """True when ``text`` says, in any of the usual ways, that it cannot answer."""
    flat = " ".join(unicodedata.normalize("NFKC", text).translate(_APOSTROPHES).casefold().split())
    return _DECLINES.search(flat) is not None

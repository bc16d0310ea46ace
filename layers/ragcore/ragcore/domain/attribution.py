"""Whether a passage supports a sentence: the rules behind the citation check and the choice of
a sentence to quote (``services/citation_check.py``, ``services/extractive.py``).

Support is evidence of two kinds, each in [0, 1]: the embedder's similarity between the
sentence and the passage's closest sentence, and lexical coverage (the share of the sentence's
content words the passage holds). Numbers and names are stricter: a passage that lacks a number
or a proper name the sentence states cannot support it, however similar it reads ("The fog
signal was first lit on 12 October 1874" is not backed by the passage about the fog signal,
which holds no date). Thresholds are in one place, below; docs/ANSWERS.md measures their effect
on the development question set.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ragcore.domain.sentences import split_sentences

SUPPORTED = 0.55  # support at or above this, with numbers and names found, backs a sentence
SIMILARITY_WEIGHT = 0.5  # the rest is lexical coverage

# A citation marker as models write them: "[2]", "[1, 3]", "[1; 3]", "[ 2 ]", "[Passage 2]",
# ranges "[1-3]" (expanded, at most 20 numbers: top_k's bound), full-width "［2］" and "【2】".
# Numbers of one or two digits only: "[1874]" is a year in brackets, never one of at most 20 sources.
_LABEL = r"(?:(?:passages?|sources?|documents?|docs?)\s*)?"
_CITATION = re.compile(
    rf"\s*[\[［【]\s*{_LABEL}(\d{{1,2}}(?:\s*[,;\-–]\s*{_LABEL}\d{{1,2}})*)\s*[\]］】]", re.IGNORECASE
)
_RANGE = re.compile(r"(\d+)\s*[\-–]\s*(\d+)")
_WORD = re.compile(r"[A-Za-z][A-Za-z'’-]*|\d+(?:[.,:]\d+)*")
# A short stop list (the words a sentence and a passage share whatever they say) rather than a
# library's: Qdrant's BM25 keeps its own list inside the engine, and nltk's needs data at run time.
STOP_WORDS = frozenset("""
a about above after again against all also am an and any are as at be because been before being
below between both but by can could did do does doing down during each few for from further had has
have having he her here hers herself him himself his how i if in into is it its itself just me more
most my myself no nor not now of off on once only or other our ours out over own same she should so
some such than that the their theirs them themselves then there these they this those through to
too under until up very was we were what when where which while who whom why will with would you
your yours yourself
""".split())
_NUMBER_WORDS = {
    word: str(n) for n, word in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
        "fifteen sixteen seventeen eighteen nineteen twenty".split()
    )
} | {"thirty": "30", "forty": "40", "fifty": "50", "hundred": "100", "thousand": "1000"}


@dataclass(frozen=True)
class Cited:
    """A sentence of an answer: its text without markers, the numbers it cited, and where its
    last marker stood (so a moved citation goes back to the same place)."""

    text: str
    citations: tuple[int, ...]
    marker_at: int | None  # index in ``text`` of the last marker; None if it had none


@dataclass(frozen=True)
class Terms:
    """What a text says, as the check compares it: content words (lower case, crudely
    singular), the numbers it states and the proper names it uses."""

    words: frozenset[str]
    numbers: frozenset[str]
    names: frozenset[str]


def cited_sentences(answer: str) -> list[Cited]:
    """The answer's sentences with their ``[n]`` markers taken out. A marker after a
    sentence's full stop ("... 1874. [1] The ...") belongs to the sentence before it."""
    pieces = split_sentences(answer)
    merged: list[str] = []
    for piece in pieces:
        leading = re.match(rf"(?:{_CITATION.pattern})+", piece)
        if leading and merged:
            merged[-1] += " " + leading.group().strip()
            piece = piece[leading.end():].strip()
        if piece:
            merged.append(piece)
    sentences = []
    for raw in merged:
        numbers: list[int] = []
        text, marker_at, shift = raw, None, 0
        for match in _CITATION.finditer(raw):
            numbers += _numbers(match.group(1))
            start = match.start() - shift
            text = text[:start] + text[start + len(match.group()):]
            shift += len(match.group())
            marker_at = start
        sentences.append(Cited(text.strip(), tuple(dict.fromkeys(numbers)), marker_at))
    return sentences


def citation_numbers(text: str) -> list[int]:
    """Every number ``text`` cites, in order, as the citation check reads markers."""
    return [n for match in _CITATION.finditer(text) for n in _numbers(match.group(1))]


def _numbers(marker: str) -> list[int]:
    numbers: list[int] = []
    for part in re.split(r"[,;]", re.sub(_LABEL, "", marker, flags=re.IGNORECASE)):
        span = _RANGE.fullmatch(part.strip())
        if span:
            first, last = int(span.group(1)), int(span.group(2))
            numbers += list(range(first, min(last, first + 19) + 1))
        else:
            numbers.append(int(part))
    return numbers


def with_citations(sentence: Cited, citations: list[int]) -> str:
    """The sentence's own words with ``citations`` where its last marker stood, or before its
    closing punctuation when it had none, put it after that, or led the sentence with it."""
    if not citations:
        return sentence.text
    marker = "[" + ", ".join(str(n) for n in citations) + "]"
    text = sentence.text
    end = len(text.rstrip(".!?\"'”’"))  # before the closing punctuation
    at = sentence.marker_at
    if at is None or at > end or not text[:at].strip():  # none, after the stop, or leading
        at = end
    before = text[:at].rstrip()
    return f"{before} {marker}{text[at:]}"


def terms(text: str) -> Terms:
    """Names are capitalised words other than a text's first (for a sentence, the one
    capitalised because it starts it)."""
    words, numbers, names = set(), set(), set()
    for i, token in enumerate(tokens(text)):
        word, is_number = _content_word(token)
        if word is None:
            continue
        (numbers if is_number else words).add(word)
        if i and not is_number and token[0].isupper():
            names.add(word)
    return Terms(frozenset(words | numbers), frozenset(numbers), frozenset(names))


def tokens(text: str) -> list[str]:
    """The words and numbers of ``text`` as written, in order."""
    return _WORD.findall(text)


def content_words(text: str) -> list[str]:
    """The content words of ``text`` in order, normalised as ``terms`` reads them."""
    return [word for word, _ in map(_content_word, tokens(text)) if word is not None]


def _content_word(token: str) -> tuple[str | None, bool]:
    """A token as ``terms`` counts it (a number in digits, a word in the singular) and whether
    it is a number; None for a stop word."""
    lower = token.lower().strip("'’-")
    if lower in _NUMBER_WORDS:
        return _NUMBER_WORDS[lower], True
    if token[0].isdigit():
        return token.replace(",", "").rstrip(".:"), True
    if lower not in STOP_WORDS and len(lower) > 1:
        return _singular(lower), False
    return None, False


def coverage(claim: Terms, passage: Terms) -> float:
    """The share of the claim's content words (numbers included) the passage holds."""
    if not claim.words:
        return 0.0
    return len(claim.words & passage.words) / len(claim.words)


def missing_facts(claim: Terms, passage: Terms) -> frozenset[str]:
    """Numbers and names the claim states that the passage lacks: any one rules the passage out."""
    return (claim.numbers - passage.numbers) | (claim.names - passage.words)


def support(similarity: float, claim: Terms, passage: Terms) -> float:
    """0 when the passage lacks a number or name the claim states; otherwise similarity
    (clamped to [0, 1]) and coverage, weighted."""
    if missing_facts(claim, passage):
        return 0.0
    similarity = min(max(similarity, 0.0), 1.0)
    return round(SIMILARITY_WEIGHT * similarity + (1 - SIMILARITY_WEIGHT) * coverage(claim, passage), 4)


def _singular(word: str) -> str:
    """Plural to singular, crudely: enough that "flashes" meets "flash" (a stemmer library
    would be more, and Qdrant's own stays inside the engine)."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 4 and word.endswith(("ches", "shes", "sses", "xes", "zes")):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word

"""Turning an uploaded file into text the chunker understands (Markdown-ish: headings kept).

HTML goes through markdownify, so its headings become Markdown headings and chunks keep their
section; PDF text comes from pypdf, page by page, in a child process (``pdf_text``). Both are
imported only when needed. Every parse is bounded (``ParseLimits``): what a file may cost
to read does not follow from its size.

Control characters (but tab, newline, carriage return) and lone surrogates are dropped from
the text: PDF extraction often yields them and the file's sender cannot fix them, whereas a
JSON ``text`` field with them is refused (``messages.DocumentCreate``), as a query is.
"""

from __future__ import annotations

import mimetypes
from dataclasses import dataclass

from ragcore.config import Settings
from ragcore.domain.errors import DocumentTooLargeError, InvalidDocumentError, UnsupportedDocumentTypeError
from ragcore.domain.messages import UNWANTED_CHARS
from ragcore.services import pdf_text

TYPE_BY_SUFFIX = {
    ".txt": "text/plain",
    ".md": "text/markdown",
    ".markdown": "text/markdown",
    ".html": "text/html",
    ".htm": "text/html",
    ".pdf": "application/pdf",
}
SUPPORTED_TYPES = frozenset(TYPE_BY_SUFFIX.values())


@dataclass(frozen=True)
class ParseLimits:
    """Bounds on one document: settings ``MAX_DOCUMENT_*`` and ``PDF_PARSE_*``, as the
    container gives them (``Container.parse_limits``); their defaults otherwise."""

    max_pages: int = Settings.model_fields["max_document_pages"].default
    max_chars: int = Settings.model_fields["max_document_chars"].default
    max_chunks: int = Settings.model_fields["max_document_chunks"].default
    pdf_seconds: float = Settings.model_fields["pdf_parse_seconds"].default
    pdf_memory_mb: int = Settings.model_fields["pdf_parse_memory_mb"].default


@dataclass(frozen=True)
class ParsedText:
    text: str
    title: str | None  # the document's own title, when the format has one


def content_type_for(filename: str, declared: str | None = None) -> str:
    """The declared type when it is one we read, else the file name's; refuses anything else."""
    declared = (declared or "").split(";")[0].strip().lower()
    if declared in SUPPORTED_TYPES:
        return declared
    suffix = "." + filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    guessed = TYPE_BY_SUFFIX.get(suffix) or mimetypes.guess_type(filename)[0]
    if guessed not in SUPPORTED_TYPES:
        raise UnsupportedDocumentTypeError(
            f"unsupported file type for {filename!r}: send .txt, .md, .html or .pdf "
            f"({', '.join(sorted(SUPPORTED_TYPES))})"
        )
    return guessed


def parse(data: bytes, content_type: str, limits: ParseLimits = ParseLimits()) -> ParsedText:
    if content_type == "application/pdf":
        parsed = _pdf(data, limits)
    elif content_type == "text/html":
        parsed = _html(_decode(data))
    else:
        parsed = ParsedText(text=_decode(data), title=None)
    text = UNWANTED_CHARS.sub("", parsed.text)
    if len(text) > limits.max_chars:
        raise DocumentTooLargeError(
            f"the text is {len(text)} characters; the limit is {limits.max_chars} (MAX_DOCUMENT_CHARS)"
        )
    return ParsedText(text=text, title=UNWANTED_CHARS.sub("", parsed.title) if parsed.title else None)


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidDocumentError(f"the file is not valid UTF-8 text (byte {exc.start})") from exc


def _html(html: str) -> ParsedText:
    from bs4 import BeautifulSoup
    from markdownify import markdownify

    soup = BeautifulSoup(html, "html.parser")
    for tag in soup(["script", "style", "noscript", "template", "nav"]):
        tag.decompose()
    title = soup.title.get_text(strip=True) if soup.title else None
    if soup.head:
        soup.head.decompose()
    text = markdownify(str(soup), heading_style="ATX", strip=["a", "img"])
    return ParsedText(text=text, title=title or None)


def _pdf(data: bytes, limits: ParseLimits) -> ParsedText:
    pages, title = pdf_text.extract(
        data, limits.max_pages, limits.max_chars, limits.pdf_seconds, limits.pdf_memory_mb
    )
    text = "\n\n".join(p.strip() for p in pages if p.strip())
    if not text:
        raise InvalidDocumentError("the PDF has no extractable text (scanned images need OCR)")
    return ParsedText(text=text, title=str(title) if title else None)

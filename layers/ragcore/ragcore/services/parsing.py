"""Turning an uploaded file into text the chunker understands (Markdown-ish: headings kept).

HTML goes through markdownify, so its headings become Markdown headings and chunks keep their
section; PDF text comes from pypdf, page by page. Both are imported only when needed.
"""

from __future__ import annotations

import io
import mimetypes
from dataclasses import dataclass

from ragcore.domain.errors import InvalidDocumentError, UnsupportedDocumentTypeError

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


def parse(data: bytes, content_type: str) -> ParsedText:
    if content_type == "application/pdf":
        return _pdf(data)
    text = _decode(data)
    if content_type == "text/html":
        return _html(text)
    return ParsedText(text=text, title=None)


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


def _pdf(data: bytes) -> ParsedText:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        pages = [page.extract_text() or "" for page in reader.pages]
        title = reader.metadata.title if reader.metadata else None
    except (PdfReadError, ValueError, KeyError) as exc:
        raise InvalidDocumentError(f"the PDF could not be read ({type(exc).__name__})") from exc
    text = "\n\n".join(p.strip() for p in pages if p.strip())
    if not text:
        raise InvalidDocumentError("the PDF has no extractable text (scanned images need OCR)")
    return ParsedText(text=text, title=str(title) if title else None)

"""Each supported file type becomes chunkable text; anything else is refused clearly."""

from __future__ import annotations

import pytest

from ragcore.domain.chunking import chunk_text
from ragcore.domain.errors import InvalidDocumentError, UnsupportedDocumentTypeError
from ragcore.services.ingest import document_from_bytes
from ragcore.services.parsing import content_type_for, parse
from tests.support.documents import make_pdf


def test_plain_text_and_markdown_are_decoded_as_utf8() -> None:
    assert parse("Ünïcode text.".encode(), "text/plain").text == "Ünïcode text."
    parsed = parse(b"\xef\xbb\xbf# Title\n\nBody.", "text/markdown")  # a BOM is dropped
    assert parsed.text == "# Title\n\nBody."


def test_html_keeps_headings_and_drops_scripts_and_navigation() -> None:
    html = b"""<html><head><title>Tide pools</title><style>p{}</style></head><body>
      <nav>Home | About</nav><h1>Tide pools</h1><p>Anemones <b>close</b> at low tide.</p>
      <h2>Hazards</h2><p>Waves.</p><script>alert(1)</script></body></html>"""
    parsed = parse(html, "text/html")
    assert parsed.title == "Tide pools"
    assert "# Tide pools" in parsed.text and "## Hazards" in parsed.text
    assert "alert" not in parsed.text and "Home | About" not in parsed.text
    chunks = chunk_text(parsed.text)
    assert any(c.text.startswith("Tide pools › Hazards") for c in chunks)


def test_pdf_text_and_title_are_extracted() -> None:
    data = make_pdf("Keeper's log", ["The lamp was lit at dusk.", "Fog rolled in by midnight."])
    parsed = parse(data, "application/pdf")
    assert parsed.title == "Keeper's log"
    assert "The lamp was lit at dusk." in parsed.text and "Fog rolled in" in parsed.text


def test_broken_inputs_are_refused_with_a_reason() -> None:
    with pytest.raises(InvalidDocumentError, match="UTF-8"):
        parse(b"\xff\xfe\x00bad", "text/plain")
    with pytest.raises(InvalidDocumentError, match="PDF"):
        parse(b"%PDF-1.4 not really", "application/pdf")
    with pytest.raises(InvalidDocumentError, match="no extractable text"):
        parse(make_pdf("empty", []), "application/pdf")


def test_content_type_comes_from_the_declared_type_or_the_file_name() -> None:
    assert content_type_for("a.md") == "text/markdown"
    assert content_type_for("a.HTM") == "text/html"
    assert content_type_for("notes", "text/plain; charset=utf-8") == "text/plain"
    assert content_type_for("scan.pdf", "application/octet-stream") == "application/pdf"
    with pytest.raises(UnsupportedDocumentTypeError, match=r"\.docx"):
        content_type_for("report.docx")


def test_title_falls_back_from_explicit_to_format_to_heading_to_file_name() -> None:
    def title(data: bytes, content_type: str, explicit: str | None = None) -> str:
        return document_from_bytes(data, content_type, "d", "file name", "s", title=explicit).title

    assert title(b"# Heading\n\nx", "text/markdown", "Given") == "Given"
    assert title(b"<title>From HTML</title><h1>H</h1>", "text/html") == "From HTML"
    assert title(b"# Heading\n\nx", "text/markdown") == "Heading"
    assert title(b"no heading", "text/plain") == "file name"

"""Issue 15: what a document may cost to read is bounded, whatever its size in bytes.

Before, the 4.6 kB one-stream PDF took ~9 s in the worker's own process and the 2.3 kB
8-page one ~3.4 s (1.25 M characters each); nothing bounded pages, characters or chunks."""

from __future__ import annotations

import time

import pytest

from ragcore.domain.documents import SourceDocument
from ragcore.domain.errors import DocumentTooLargeError
from ragcore.services.ingest import chunks_of
from ragcore.services.parsing import ParseLimits, parse
from tests.support.documents import make_shared_stream_pdf

PDF = "application/pdf"


@pytest.fixture(scope="module")
def one_stream() -> bytes:
    return make_shared_stream_pdf(2_000_000)


@pytest.fixture(scope="module")
def eight_pages() -> bytes:
    return make_shared_stream_pdf(250_000, pages=8)


def test_a_pdf_that_reads_too_long_is_stopped_at_the_deadline(one_stream: bytes) -> None:
    assert len(one_stream) < 5000
    started = time.monotonic()
    with pytest.raises(DocumentTooLargeError, match=r"too_large \(413\).*more than 1 s.*PDF_PARSE_SECONDS"):
        parse(one_stream, PDF, ParseLimits(pdf_seconds=1))
    assert time.monotonic() - started < 2


def test_a_pdf_that_needs_more_memory_than_allowed_is_refused() -> None:
    bomb = make_shared_stream_pdf(60_000_000)  # ~60 kB on disk; pypdf itself stops at 75 MB
    with pytest.raises(DocumentTooLargeError, match=r"more than 256 MB.*PDF_PARSE_MEMORY_MB"):
        parse(bomb, PDF, ParseLimits(pdf_memory_mb=256))


def test_a_stream_that_inflates_past_pypdfs_own_limit_is_too_large_not_unreadable() -> None:
    bomb = make_shared_stream_pdf(80_000_000)  # ~80 kB on disk; was "could not be read" (422)
    with pytest.raises(DocumentTooLargeError, match=r"too_large \(413\): a stream in the PDF inflates past"):
        parse(bomb, PDF)


def test_pages_are_counted_before_any_is_read(eight_pages: bytes) -> None:
    started = time.monotonic()
    with pytest.raises(DocumentTooLargeError, match=r"8 pages; the limit is 4 \(MAX_DOCUMENT_PAGES\)"):
        parse(eight_pages, PDF, ParseLimits(max_pages=4))
    assert time.monotonic() - started < 1.5  # the child's start and pypdf's import only


def test_characters_stop_the_read_at_the_page_that_passes_them(eight_pages: bytes) -> None:
    with pytest.raises(DocumentTooLargeError, match=r"longer than 200000 characters \(MAX_DOCUMENT_CHARS\)"):
        parse(eight_pages, PDF, ParseLimits(max_chars=200_000))


def test_text_files_are_bounded_in_characters_too() -> None:
    with pytest.raises(DocumentTooLargeError, match=r"1001 characters; the limit is 1000"):
        parse(b"x" * 1001, "text/plain", ParseLimits(max_chars=1000))
    assert parse(b"x" * 1000, "text/plain", ParseLimits(max_chars=1000)).text == "x" * 1000


def test_chunks_per_document_are_bounded_before_any_is_embedded() -> None:
    text = "\n\n".join(f"# Part {n}\n\nShort." for n in range(30))
    document = SourceDocument(document_id="many", title="t", text=text, source="s")
    assert len(chunks_of(document, "v", max_chunks=30)) == 30
    too_many = r"'many' makes 30 chunks; the limit is 29 \(MAX_DOCUMENT_CHUNKS\)"
    with pytest.raises(DocumentTooLargeError, match=too_many):
        chunks_of(document, "v", max_chunks=29)


def test_control_characters_are_stripped_from_files_at_parse_time() -> None:
    parsed = parse("nul\x00 esc\x1b[31m c1\x85 del\x7f keep\ttab\r\n".encode(), "text/plain")
    assert parsed.text == "nul esc[31m c1 del keep\ttab\r\n"

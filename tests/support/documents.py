"""Test documents made on the fly."""

from __future__ import annotations

import io

from fpdf import FPDF


def make_pdf(title: str, lines: list[str]) -> bytes:
    """A real PDF with a text layer and a title in its metadata."""
    pdf = FPDF()
    pdf.set_title(title)
    pdf.add_page()
    pdf.set_font("Helvetica", size=12)
    for line in lines:
        pdf.multi_cell(0, 8, line, new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def make_shared_stream_pdf(stream_bytes: int, pages: int = 1) -> bytes:
    """Issue 15's cheap-to-send, costly-to-read PDF: one Flate content stream of
    ``stream_bytes`` of text operators (a few kB on disk), drawn by each of ``pages`` pages."""
    from pypdf import PdfWriter
    from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject

    writer = PdfWriter()
    font = writer._add_object(DictionaryObject({
        NameObject("/Type"): NameObject("/Font"), NameObject("/Subtype"): NameObject("/Type1"),
        NameObject("/BaseFont"): NameObject("/Helvetica"),
    }))
    operator = b"(abcd efgh ) Tj\n"
    stream = DecodedStreamObject()
    stream.set_data(b"BT /F1 1 Tf " + operator * (stream_bytes // len(operator)) + b"ET")
    contents = writer._add_object(stream.flate_encode(level=9))
    for _ in range(pages):
        page = writer.add_blank_page(612, 792)
        page[NameObject("/Resources")] = DictionaryObject(
            {NameObject("/Font"): DictionaryObject({NameObject("/F1"): font})}
        )
        page[NameObject("/Contents")] = contents
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()

"""Test documents made on the fly."""

from __future__ import annotations

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

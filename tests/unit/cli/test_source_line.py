from ragcore.cli.jobs import source_line
from ragcore.domain.answers import Source


def _source(source: str) -> Source:
    return Source(n=2, chunk_id="c", document_id="d", title="Tide tables", source=source, score=0.987, snippet="x")


def test_a_source_line_names_the_file_and_the_score() -> None:
    assert source_line(_source("tides.md")) == "[2] Tide tables (tides.md, score 0.99)"


def test_a_document_sent_without_a_source_shows_its_score_alone() -> None:
    assert source_line(_source("")) == "[2] Tide tables (score 0.99)"

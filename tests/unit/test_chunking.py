from ragcore.domain.chunking import MAX_WORDS, chunk_text, title_of

DOC = """# Skerry Point

Intro paragraph.

## The light

Two white flashes.

Seen from 23 nautical miles.

## Fog

A horn.
"""


def test_sections_follow_headings_and_each_chunk_carries_its_heading() -> None:
    chunks = chunk_text(DOC)
    assert [c.text for c in chunks] == [
        "Skerry Point\nIntro paragraph.",
        "The light\nTwo white flashes.\n\nSeen from 23 nautical miles.",
        "Fog\nA horn.",
    ]
    assert [c.position for c in chunks] == [0, 1, 2]


def test_long_paragraphs_are_split_within_the_word_budget() -> None:
    chunks = chunk_text("word " * (MAX_WORDS * 2 + 10))
    assert len(chunks) == 3
    assert all(len(c.text.split()) <= MAX_WORDS for c in chunks)
    assert sum(len(c.text.split()) for c in chunks) == MAX_WORDS * 2 + 10


def test_plain_text_without_headings() -> None:
    assert [c.text for c in chunk_text("one\n\ntwo")] == ["one\n\ntwo"]
    assert chunk_text("   \n\n") == []


def test_title_is_the_first_h1_or_the_fallback() -> None:
    assert title_of(DOC, "file") == "Skerry Point"
    assert title_of("## only h2", "file") == "file"

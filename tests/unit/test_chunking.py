from ragcore.domain.chunking import (
    MAX_CHUNK_CHARS,
    MAX_HEADING_CHARS,
    MAX_WORDS,
    OVERLAP_WORDS,
    chunk_text,
    title_of,
)

DOC = """# Skerry Point

Intro paragraph.

## The light

Two white flashes.

Seen from 23 nautical miles.

## Fog

A horn.
"""


def test_sections_follow_headings_and_each_chunk_carries_its_heading_trail() -> None:
    chunks = chunk_text(DOC)
    assert [c.text for c in chunks] == [
        "Skerry Point\nIntro paragraph.",
        "Skerry Point › The light\nTwo white flashes.\n\nSeen from 23 nautical miles.",
        "Skerry Point › Fog\nA horn.",
    ]
    assert [c.position for c in chunks] == [0, 1, 2]


def test_a_heading_trail_drops_deeper_levels_when_a_shallower_heading_starts() -> None:
    text = "# A\n\n## B\n\n### C\n\none\n\n## D\n\ntwo"
    assert [c.text.split("\n")[0] for c in chunk_text(text)] == ["A › B › C", "A › D"]


def _sentences(n: int, words: int = 10) -> str:
    return " ".join(f"Sentence{i} " + " ".join(["word"] * (words - 2)) + "." for i in range(n))


def test_whole_sentences_are_packed_with_overlap_between_chunks() -> None:
    chunks = chunk_text(_sentences(40), max_words=50, overlap_words=20)
    assert all(len(c.text.split()) <= 50 for c in chunks)
    for previous, current in zip(chunks, chunks[1:]):
        prev_sentences = previous.text.split(". ")
        # the next chunk starts with the previous chunk's last two sentences (20 words)
        assert current.text.startswith(". ".join(prev_sentences[-2:]).rstrip(".")), (previous, current)
        assert current.text.split()[0].startswith("Sentence")  # starts at a sentence start
    covered = {w for c in chunks for w in c.text.split() if w.startswith("Sentence")}
    assert covered == {f"Sentence{i}" for i in range(40)}  # nothing lost


def test_no_overlap_means_every_sentence_appears_once() -> None:
    chunks = chunk_text(_sentences(12), max_words=30, overlap_words=0)
    assert sum(c.text.count("Sentence") for c in chunks) == 12


def test_an_over_long_sentence_is_cut_into_overlapping_windows() -> None:
    words = [f"w{i}" for i in range(MAX_WORDS * 2 + 10)]
    chunks = chunk_text(" ".join(words))
    assert all(len(c.text.split()) <= MAX_WORDS for c in chunks)
    seen = [w for c in chunks for w in c.text.split()]
    assert set(seen) == set(words)
    assert chunks[1].text.split()[0] == words[MAX_WORDS - OVERLAP_WORDS]


def test_paragraph_breaks_survive_inside_a_chunk_and_blank_text_gives_nothing() -> None:
    assert [c.text for c in chunk_text("one\n\ntwo")] == ["one\n\ntwo"]
    assert chunk_text("   \n\n") == []


def test_overlap_must_be_smaller_than_the_budget() -> None:
    import pytest

    with pytest.raises(ValueError):
        chunk_text("text", max_words=10, overlap_words=10)


def test_title_is_the_first_level_one_heading() -> None:
    assert title_of(DOC, "file") == "Skerry Point"
    assert title_of("## only h2", "file") == "file"


def test_a_huge_heading_is_cut_before_it_is_copied_onto_every_chunk() -> None:
    """Issue 15: a 20 kB one-word heading went whole into each of the document's chunks."""
    heading = "A" * 20_000
    doc = f"# {heading}\n\n## {heading}\n\n" + "Bees dance. " * 400
    chunks = chunk_text(doc)
    assert len(chunks) > 10
    trail = chunks[0].text.split("\n", 1)[0]
    assert trail == " › ".join(["A" * (MAX_HEADING_CHARS - 1) + "…"] * 2)
    assert all(c.text.startswith(trail) for c in chunks)
    assert max(len(c.text) for c in chunks) < 1000  # was 40 kB each
    assert title_of(doc, "fallback") == "A" * (MAX_HEADING_CHARS - 1) + "…"


def test_a_chunk_of_over_long_words_is_cut_to_its_bound() -> None:
    chunks = chunk_text("# T\n\n" + " ".join(["B" * 5000] * 3))
    assert chunks and all(len(c.text) <= MAX_CHUNK_CHARS for c in chunks)
    assert all(len(c.context) <= 5 * MAX_CHUNK_CHARS for c in chunks)
    assert chunks[0].text.startswith("T\nBBB") and chunks[0].text.endswith("…")

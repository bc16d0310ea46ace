"""The answer ``ragcore ask`` and ``chat`` show as it is written: on a terminal only, added to
in place, rewritten when it restarts, erased for the final answer."""

from __future__ import annotations

import io

from ragcore.cli.live_answer import LiveAnswer, rows
from tests.unit.cli.test_status_line import Terminal


def test_rows_count_each_line_wrapped_at_the_width() -> None:
    assert rows("", 10) == 1
    assert rows("0123456789", 10) == 1  # a full row: the cursor waits at its end
    assert rows("0123456789a", 10) == 2
    assert rows("one\n\nthree", 10) == 3
    assert rows("x" * 25 + "\nend\n", 10) == 3 + 1 + 1


def test_a_terminal_gets_the_text_added_to_then_rewritten_then_erased(monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setenv("COLUMNS", "10")
    stream = Terminal()
    ended: list[str] = []
    with LiveAnswer(stream, True, before=lambda: ended.append("status line")) as live:
        assert live.enabled and ended == []
        live.show("In 18")
        live.show("In 1874 [1]. It")  # 15 characters: two rows at 10 columns
        assert ended == ["status line"]  # once, before the first text
        assert stream.getvalue() == "In 1874 [1]. It"
        live.show("Retried")  # an attempt that starts again: the two rows are rewritten
        assert stream.getvalue().endswith("\r\x1b[1A\x1b[JRetried")
        live.show("Retried\x1b[2J\r text")  # control characters are not shown while live
        assert stream.getvalue().endswith("Retried text")
    assert stream.getvalue().endswith("Retried text\r\x1b[1A\x1b[J")  # the final answer takes its place
    assert ended == ["status line"]


def test_a_pipe_shows_nothing_and_nothing_when_not_asked() -> None:
    assert not LiveAnswer(io.StringIO(), True).enabled
    stream = Terminal()
    with LiveAnswer(stream, False) as live:
        assert not live.enabled
    assert stream.getvalue() == ""

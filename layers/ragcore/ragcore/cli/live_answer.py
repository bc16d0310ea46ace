"""An answer shown as it is written, on a terminal, while a command waits for its job."""

from __future__ import annotations

import re
import shutil
from typing import Callable, TextIO

# Escape sequences and control characters other than a newline (in a model's text, say)
# would move the cursor and spoil the rewriting; they are not shown while the text is live.
_CONTROL = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|[\x00-\x09\x0b-\x1f\x7f]")


def rows(text: str, columns: int) -> int:
    """The terminal rows ``text`` takes when written from the start of a row: each line wraps
    at ``columns``."""
    return sum(max(1, -(-len(line) // columns)) for line in text.split("\n"))


class LiveAnswer:
    """On a terminal (``enabled``), ``show`` writes the answer so far: what was added, or, when
    the text changed otherwise (a retried attempt starts again), the lines it took rewritten in
    place. ``before`` runs once, before the first text (it ends the status line, which must
    not write over the answer). On leaving, the text is erased: the final, checked answer with
    its citations takes its place. Anywhere else (a pipe) nothing is shown: a script sees only
    the final answer, as before."""

    def __init__(self, stream: TextIO, enabled: bool, before: Callable[[], None] | None = None) -> None:
        self.enabled = enabled and stream.isatty()
        self._stream = stream
        self._before = before
        self._shown = ""

    def __enter__(self) -> "LiveAnswer":
        return self

    def __exit__(self, *exc: object) -> None:
        self._erase()
        self._stream.flush()

    def show(self, text: str) -> None:
        text = _CONTROL.sub("", text)
        if self._before is not None:
            self._before()
            self._before = None
        if text.startswith(self._shown):
            self._stream.write(text[len(self._shown):])
        else:
            self._erase()
            self._stream.write(text)
        self._shown = text
        self._stream.flush()

    def _erase(self) -> None:
        if not self._shown:
            return
        up = rows(self._shown, shutil.get_terminal_size().columns) - 1
        self._stream.write("\r" + (f"\033[{up}A" if up else "") + "\033[J")
        self._shown = ""

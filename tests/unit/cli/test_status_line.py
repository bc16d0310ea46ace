"""The live status ``ragcore ask`` shows on stderr: a spinner on a terminal, plain lines
elsewhere."""

from __future__ import annotations

import io
import time

from ragcore.cli.status_line import StatusLine
from ragcore.domain.jobs import JobStatus


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def wait_for(stream: io.StringIO, text: str, times: int) -> None:
    """Until the spinner has drawn ``text`` ``times`` times: a condition, not a sleep, so a
    busy machine makes the test slower, not wrong."""
    deadline = time.monotonic() + 30
    while stream.getvalue().count(text) < times:
        assert time.monotonic() < deadline, stream.getvalue()
        time.sleep(0.01)


def test_a_terminal_gets_one_line_rewritten_in_place_and_cleared_at_the_end() -> None:
    stream = Terminal()
    with StatusLine("job 42", stream, interval=0.01) as line:
        line.show(JobStatus.QUEUED)
        wait_for(stream, "job 42: queued", 3)
        line.show(JobStatus.STARTED)
        wait_for(stream, "job 42: started", 2)
    written = stream.getvalue()
    assert "\n" not in written and written.endswith("\r\x1b[K")
    frames = written.split("\r")[1:-1]
    assert len(frames) >= 5 and all(f.endswith("s\x1b[K") for f in frames)
    assert any(" job 42: queued " in f for f in frames) and " job 42: started " in frames[-1]


def test_a_pipe_gets_a_plain_line_per_change_of_status() -> None:
    stream = io.StringIO()
    with StatusLine("job 42", stream, interval=0.01) as line:
        for status in (JobStatus.QUEUED, JobStatus.QUEUED, JobStatus.STARTED, JobStatus.STARTED):
            line.show(status)
        time.sleep(0.05)
    assert stream.getvalue() == "job 42: queued\njob 42: started\n"

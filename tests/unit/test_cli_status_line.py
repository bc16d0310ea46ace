"""The live status ``ragcore ask`` shows on stderr: a spinner on a terminal, plain lines
elsewhere."""

from __future__ import annotations

import io
import time

from ragcore.cli_status_line import StatusLine
from ragcore.domain.jobs import JobStatus


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_terminal_gets_one_line_rewritten_in_place_and_cleared_at_the_end() -> None:
    stream = Terminal()
    with StatusLine("job 42", stream, interval=0.01) as line:
        line.show(JobStatus.QUEUED)
        time.sleep(0.1)
        line.show(JobStatus.STARTED)
        time.sleep(0.1)
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

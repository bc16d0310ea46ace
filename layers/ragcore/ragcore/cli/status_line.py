"""A job's live status on stderr while a command waits for it."""

from __future__ import annotations

import threading
import time
from typing import TextIO

from ragcore.domain.jobs import JobStatus

_FRAMES = "-\\|/"


class StatusLine:
    """On a terminal, one line rewritten in place: a spinner, the status and the time so far.
    Anywhere else (a pipe, a log file) a plain line per change of status, so no control
    characters end up in a file. Use as a context manager; ``show`` takes each status."""

    def __init__(self, label: str, stream: TextIO, interval: float = 0.1) -> None:
        self._label = label
        self._stream = stream
        self._interval = interval
        self._live = stream.isatty()
        self._status: JobStatus | None = None
        self._started = time.monotonic()
        self._done = threading.Event()
        self._lock = threading.Lock()
        self._spinner = threading.Thread(target=self._spin, daemon=True)

    def __enter__(self) -> "StatusLine":
        if self._live:
            self._spinner.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        """Ends the line before the command is done (the answer being written takes its place
        on the terminal); later statuses are not shown."""
        if self._done.is_set():
            return
        self._done.set()
        if self._live:
            self._spinner.join()
            self._stream.write("\r\033[K")  # the answer, or the error, takes the line
            self._stream.flush()

    def show(self, status: JobStatus) -> None:
        with self._lock:
            changed, self._status = status != self._status, status
        if changed and not self._live and not self._done.is_set():
            print(f"{self._label}: {status.value}", file=self._stream, flush=True)

    def _spin(self) -> None:
        frame = 0
        while not self._done.wait(self._interval):
            with self._lock:
                status = self._status.value if self._status else "sending"
            elapsed = time.monotonic() - self._started
            spinner = _FRAMES[frame % len(_FRAMES)]
            self._stream.write(f"\r{spinner} {self._label}: {status} {elapsed:.1f}s\033[K")
            self._stream.flush()
            frame += 1

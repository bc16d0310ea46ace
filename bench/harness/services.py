"""The offline services (Valkey, LocalStack SQS) and the server processes under test.

Every server (ragcore's API gateway and worker, the baseline's uvicorn app and RQ worker) runs
in a process of its own, started from ``python -m bench.harness.serve ...`` or the baseline's
modules, with the environment ``DevStack`` builds, on free ports and in a temporary directory;
the load generator and the fake LLM stay in the bench process.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Iterator

from bench.harness import env
from ragcore.local.processes import ManagedProcess, ValkeyService, wait_until
from ragcore.local.stack import DevStack
from tests.support.fake_llm import FakeLLM
from tests.support.paths import free_port
from tests.support.stack import fake_llm_stack

# Workers must not see a batch they still hold come back: at least the worker's 60 s Timeout.
VISIBILITY_TIMEOUT = 60
READY = "BENCH-SERVER-READY"  # what a server prints once it serves
WORKER_CPU = str((os.cpu_count() or 1) - 1)  # the last CPU; the other(s) for everything else


@contextmanager
def offline(tmp: Path, llm_delay: float = 0.0) -> Iterator[tuple[DevStack, FakeLLM, dict[str, str]]]:
    """Valkey and LocalStack (queues made from template.yaml), the fake LLM over HTTP, and the
    environment the servers get: the stack's, plus the bench's thread settings."""
    with FakeLLM(delay=llm_delay) as llm:
        llm._server.request_queue_size = 256  # noqa: SLF001 - many workers' calls at once
        with fake_llm_stack(llm, tmp, serve=False, visibility_timeout=VISIBILITY_TIMEOUT) as stack:
            server_env = {**os.environ, **stack.env, **env.THREADS, "POWERTOOLS_LOG_LEVEL": "INFO",
                          "PYTHONPATH": _pythonpath()}
            yield stack, llm, server_env


@contextmanager
def baseline_valkey(tmp: Path) -> Iterator[tuple[str, int]]:
    """The baseline's own Valkey, standalone, and its pid: RQ's transactions and multi-key
    commands span hash slots, which the stack's Valkey refuses (cluster mode, as ElastiCache
    Serverless), and a server of its own keeps its load apart from ragcore's."""
    service = ValkeyService("127.0.0.1", free_port(), tmp / "baseline-valkey", cluster=False)
    service.start()
    try:
        yield service.url, service.pid
    finally:
        service.stop()


def _pythonpath() -> str:
    parts = [str(env.ROOT), str(env.ROOT / "layers" / "ragcore"), os.environ.get("PYTHONPATH", "")]
    return os.pathsep.join(p for p in parts if p)


class Server(ManagedProcess):
    """A Python module in its own process (group), ready once its log says ``READY``."""

    def __init__(self, name: str, args: list[str], server_env: dict[str, str], log_dir: Path,
                 cpu: str | None = None) -> None:
        full_env = {**server_env, "BENCH_CPU": cpu or ""}
        super().__init__(name, [sys.executable, "-m", *args], full_env, log_dir / f"{name}.log")

    @property
    def pid(self) -> int:
        assert self._process is not None
        return self._process.pid

    def start(self, timeout: float = 120) -> None:  # type: ignore[override]
        offset = self.log_path.stat().st_size if self.log_path.exists() else 0  # logs are appended
        super().start()

        def ready() -> bool:
            if not self.running():
                raise RuntimeError(f"{self.name} exited:\n{self.log_path.read_text()[-3000:]}")
            with self.log_path.open(errors="replace") as log:
                log.seek(offset)
                return READY in log.read()

        wait_until(ready, timeout, self.name, self.log_path)


@contextmanager
def servers(*specs: Server) -> Iterator[None]:
    with ExitStack() as stack:
        for server in specs:
            server.start()
            stack.callback(server.stop)
        yield


def temp_dir(prefix: str) -> tempfile.TemporaryDirectory[str]:
    return tempfile.TemporaryDirectory(prefix=prefix)


def wait(seconds: float) -> None:
    time.sleep(seconds)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (its threads included)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def child_pid(command_part: str) -> int | None:
    """A service this process started (LocalStack, valkey-server), found by its command line."""
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if int(stat[1]) == os.getpid() and command_part in cmdline:
                return int(entry.name)
    return None

"""Issue 15: the offline stack refuses to start when a port it needs is taken, and says which;
its readiness checks accept only the processes it started. Before, a taken Valkey port made
its own valkey-server exit while the stack reported ready against the other one."""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Iterator

import pytest

from ragcore.local.processes import ManagedProcess, ServiceStartError, ValkeyService
from ragcore.local.stack import DevStack
from tests.support.paths import free_port
from tests.support.stack import free_stack_options


def _children() -> set[int]:
    """This process's live children (a started service would be one)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(stat[1]) == os.getpid() and stat[0] != "Z":
                found.add(int(entry.name))
    return found


@pytest.fixture
def occupied() -> Iterator[socket.socket]:
    holder = socket.socket()
    holder.bind(("127.0.0.1", free_port()))
    holder.listen()
    yield holder
    holder.close()


@pytest.mark.parametrize(
    "option, named",
    [("valkey_port", "Valkey, DEV_VALKEY_PORT"), ("localstack_port", "LocalStack, DEV_LOCALSTACK_PORT"),
     ("llm_port", "LLM server, DEV_LLM_PORT"), ("api_port", "API gateway, DEV_API_PORT")],
)
def test_a_taken_port_stops_the_stack_before_anything_starts(
    option: str, named: str, occupied: socket.socket, tmp_path: Path
) -> None:
    port = occupied.getsockname()[1]
    before = _children()
    refusal = rf"in use by another process: 127\.0\.0\.1:{port} \({named}\)"
    with pytest.raises(ServiceStartError, match=refusal):
        with DevStack(free_stack_options(tmp_path, **{option: port})):
            pass
    assert _children() == before


def test_another_stacks_valkey_on_the_port_is_refused_not_used(tmp_path: Path) -> None:
    """The finding itself: a Valkey that answers PING on our port is another stack's, and the
    stack must not start on it (before, its readiness check took that PONG for its own)."""
    other = ValkeyService("127.0.0.1", free_port(), tmp_path / "other")
    other.start()
    try:
        port = other._address[1]
        before = _children()
        with pytest.raises(ServiceStartError, match=rf"127\.0\.0\.1:{port} \(Valkey, DEV_VALKEY_PORT\)"):
            with DevStack(free_stack_options(tmp_path / "ours", valkey_port=port, with_llm=False)):
                pass
        assert _children() == before and other.running()  # the other stack's Valkey is untouched
    finally:
        other.stop()


def test_a_service_that_answers_from_another_process_is_not_ready(tmp_path: Path) -> None:
    """The race the port check leaves: another process binds between the check and the
    service's own bind. A live child that does not listen there is not taken for ready."""
    other = ValkeyService("127.0.0.1", free_port(), tmp_path / "other")
    other.start()  # its own readiness check passes: it is the listener
    ours = ManagedProcess("valkey", ["sleep", "30"], dict(os.environ), tmp_path / "ours.log")
    ours.start()
    try:
        port = other._address[1]
        with pytest.raises(ServiceStartError, match=rf"port {port} answers, but not from the valkey"):
            ours.ensure_listener(port)
    finally:
        ours.stop()
        other.stop()
    with pytest.raises(ServiceStartError, match="valkey exited"):
        ours.ensure_listener(other._address[1])


def test_a_stack_on_free_ports_starts_and_its_services_are_its_own(tmp_path: Path) -> None:
    with DevStack(free_stack_options(tmp_path, with_llm=False, serve=False)) as stack:
        assert stack.env["VALKEY_URL"] and stack.env["AWS_ENDPOINT_URL"]

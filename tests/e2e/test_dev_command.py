"""`ragcore dev` serves the API and, on Ctrl-C, stops every service it started."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.support.paths import ROOT, free_port


def listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def dev_env(tmp_path: Path, ports: dict[str, int]) -> dict[str, str]:
    return {**os.environ, "DEV_DATA_DIR": str(tmp_path), **{f"DEV_{k}_PORT": str(v) for k, v in ports.items()}}


def start_dev(tmp_path: Path) -> tuple[subprocess.Popen[str], dict[str, int]]:
    ports = {name: free_port() for name in ("API", "VALKEY", "LOCALSTACK", "LLM")}
    env = dev_env(tmp_path, ports)
    process = subprocess.Popen(
        [sys.executable, "-m", "ragcore.cli", "dev"], cwd=ROOT, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True,
    )
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and not listening(ports["API"]):
        assert process.poll() is None, "ragcore dev exited during start-up"
        time.sleep(0.5)
    health = httpx.get(f"http://127.0.0.1:{ports['API']}/", timeout=10)
    assert health.status_code == 200, health.text
    assert all(listening(p) for p in ports.values())
    return process, ports


def open_ports(ports: dict[str, int], wait: float = 10) -> list[str]:
    deadline = time.monotonic() + wait
    while True:
        still_open = [name for name, port in ports.items() if listening(port)]
        if not still_open or time.monotonic() > deadline:
            return still_open
        time.sleep(0.5)


def test_the_dlq_command_reaches_the_stack_and_ctrl_c_stops_everything(tmp_path: Path) -> None:
    process, ports = start_dev(tmp_path)
    try:
        redrive = subprocess.run(
            [sys.executable, "-m", "ragcore.cli", "dlq", "redrive", "--local"], cwd=ROOT,
            env=dev_env(tmp_path, ports), capture_output=True, text=True, timeout=120,
        )
        assert redrive.returncode == 0, redrive.stderr
        assert redrive.stdout.splitlines() == [
            f"{queue}: requeued 0 failed job(s), resent 0, dropped 0 finished or expired, left 0 unreadable"
            for queue in ("jobs", "ingest")
        ]
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=60) == 0
    finally:
        if process.poll() is None:
            process.kill()
    assert open_ports(ports) == []


def test_even_a_killed_runner_leaves_nothing_running(tmp_path: Path) -> None:
    process, ports = start_dev(tmp_path)
    process.kill()  # SIGKILL: no cleanup code runs; the services must die with it
    process.wait()
    assert open_ports(ports) == []

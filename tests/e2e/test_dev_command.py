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


def test_ctrl_c_stops_everything(tmp_path: Path) -> None:
    ports = {name: free_port() for name in ("API", "VALKEY", "LOCALSTACK", "LLM")}
    env = {**os.environ, "DEV_DATA_DIR": str(tmp_path), **{f"DEV_{k}_PORT": str(v) for k, v in ports.items()}}
    process = subprocess.Popen(
        [sys.executable, "-m", "ragcore.cli", "dev"], cwd=ROOT, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and not listening(ports["API"]):
            assert process.poll() is None, process.stdout.read() if process.stdout else ""
            time.sleep(0.5)
        health = httpx.get(f"http://127.0.0.1:{ports['API']}/", timeout=10)
        assert health.status_code == 200, health.text
        assert all(listening(p) for p in ports.values())

        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=60) == 0
    finally:
        if process.poll() is None:
            process.kill()
    time.sleep(1)
    still_open = [name for name, port in ports.items() if listening(port)]
    assert still_open == []

"""`ragcore dev` serves the API and, on Ctrl-C, stops every service it started; given an LLM
endpoint, its workers call that endpoint and the bundled model is not started."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.support.fake_llm import FakeLLM
from tests.support.paths import ROOT, free_port

# What names an LLM endpoint; a developer's own must not change what these tests start.
LLM_ENDPOINT = ("OPENAI_API_KEY", "OPENAI_BASE_URL", "LLM_MODEL")


def listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def dev_env(tmp_path: Path, ports: dict[str, int], **extra: str) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if name not in LLM_ENDPOINT}
    return {**env, "DEV_DATA_DIR": str(tmp_path), **{f"DEV_{k}_PORT": str(v) for k, v in ports.items()}, **extra}


def start_dev(
    tmp_path: Path, output: Path | None = None, **extra_env: str
) -> tuple[subprocess.Popen[str], dict[str, int]]:
    """``ragcore dev`` with ``extra_env``, once its API answers; its output goes to ``output``.
    It starts with SIGINT ignored, as a shell without job control starts ``ragcore dev &``:
    Ctrl-C's signal must stop it all the same."""
    ports = {name: free_port() for name in ("API", "VALKEY", "LOCALSTACK", "LLM")}
    env = dev_env(tmp_path, ports, **extra_env)
    with open(output or os.devnull, "w") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "ragcore.cli", "dev"], cwd=ROOT, env=env, stdout=sink, stderr=subprocess.STDOUT,
            text=True, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
        )
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and not listening(ports["API"]):
        assert process.poll() is None, "ragcore dev exited during start-up"
        time.sleep(0.5)
    health = httpx.get(f"http://127.0.0.1:{ports['API']}/", timeout=10)
    assert health.status_code == 200, health.text
    expected = {name for name in ports if not (name == "LLM" and "OPENAI_BASE_URL" in extra_env)}
    assert {name for name, port in ports.items() if listening(port)} == expected
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


def wait_for_line(output: Path, start: str, process: subprocess.Popen[str], timeout: float = 120) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in output.read_text().splitlines():
            if line.strip().startswith(start):
                return line.strip()
        assert process.poll() is None, output.read_text()[-2000:]
        time.sleep(0.5)
    raise AssertionError(f"no line starting {start!r} in: {output.read_text()[-2000:]}")


def test_with_an_endpoint_named_the_workers_call_it_and_the_bundled_model_stays_off(tmp_path: Path) -> None:
    key = "sk-e2e-never-printed"
    output = tmp_path / "dev.out"
    with FakeLLM(answer="It was first lit in 1874 [1].") as llm:
        process, ports = start_dev(
            tmp_path / "data", output, OPENAI_BASE_URL=llm.base_url, OPENAI_API_KEY=key, LLM_MODEL="remote-model"
        )
        try:
            assert wait_for_line(output, "LLM:", process) == f"LLM: remote-model at {llm.base_url}"
            api = f"http://127.0.0.1:{ports['API']}"
            job = httpx.post(f"{api}/chat", json={"query": "When was Skerry Point Lighthouse first lit?", "top_k": 3},
                             timeout=10).json()
            deadline = time.monotonic() + 60
            while (result := httpx.get(f"{api}/result/{job['job_id']}", timeout=10)).status_code == 202:
                assert time.monotonic() < deadline, result.text
                time.sleep(0.3)
            assert result.status_code == 200, result.text
            assert result.json()["answer"] == "It was first lit in 1874 [1]."
            assert result.json()["model"] == "remote-model"
            assert llm.calls == 1 and llm.requests[0]["model"] == "remote-model"
            assert "Skerry Point" in llm.questions()[0]  # the retrieved passages went with it
            assert not listening(ports["LLM"])
            process.send_signal(signal.SIGINT)
            assert process.wait(timeout=60) == 0
        finally:
            if process.poll() is None:
                process.kill()
    assert key not in output.read_text()
    assert open_ports(ports) == []

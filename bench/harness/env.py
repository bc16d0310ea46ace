"""Thread settings, the machine a run happened on, and waiting for a quiet machine.

``apply()`` must run before numpy or onnxruntime is imported (each bench script calls it first):
on 2 cores, BLAS and ONNX thread pools of their own would fight the servers being measured.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

THREADS = {
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "NUMEXPR_NUM_THREADS": "1",
    "TOKENIZERS_PARALLELISM": "false",
    "EMBEDDER_THREADS": "1",  # onnxruntime intra-op threads (the product's default too)
    "HF_HUB_OFFLINE": "1",
}


def apply() -> None:
    for name, value in THREADS.items():
        os.environ[name] = value
    for path in (str(ROOT), str(ROOT / "layers" / "ragcore")):
        if path not in sys.path:
            sys.path.insert(0, path)


def pin_to_cpu(cpu: str | None) -> None:
    """Runs a server process on one CPU (``BENCH_CPU``): a worker Lambda of 1,769 MB has one vCPU."""
    if cpu:
        os.sched_setaffinity(0, {int(cpu)})


def load() -> tuple[float, float, float]:
    return os.getloadavg()


def machine() -> dict[str, object]:
    model = ""
    try:
        model = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                     if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True, check=False).stdout.strip()
    return {
        "nproc": os.cpu_count(),
        "cpu_model": model,
        "python": platform.python_version(),
        "kernel": platform.release(),
        "commit": commit,
        "loadavg_at_start": [round(x, 2) for x in load()],
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def wait_for_quiet(max_load: float, timeout: float) -> None:
    """Measurements are meaningless while other work runs: wait (up to ``timeout`` s) until the
    1-minute load average is at most ``max_load``, then go on either way (the load is reported)."""
    deadline = time.monotonic() + timeout
    while load()[0] > max_load and time.monotonic() < deadline:
        print(f"load average {load()[0]:.2f} > {max_load}: waiting for a quiet machine", file=sys.stderr)
        time.sleep(15)

import os
import signal

# Set thread pools on purpose before numpy/onnxruntime load: on 2 cores they fight otherwise.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")


def _terminate(signum: int, frame: object) -> None:
    # `timeout` and CI send SIGTERM: stop like Ctrl-C, so fixtures stop the services they started.
    raise KeyboardInterrupt


signal.signal(signal.SIGTERM, _terminate)

"""The offline stack's options for a test or a benchmark: this checkout's services on free
127.0.0.1 ports, so runs never clash with `make dev` or with each other."""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Mapping
from unittest import mock

from ragcore.local.stack import DevStack, StackOptions
from tests.support.fake_llm import FakeLLM
from tests.support.paths import ROOT, free_port


def free_stack_options(data_dir: Path, **overrides: Any) -> StackOptions:
    values: dict[str, Any] = dict(
        host="127.0.0.1", api_port=free_port(), valkey_port=free_port(), localstack_port=free_port(),
        llm_port=free_port(), data_dir=data_dir, localstack_python=ROOT / ".venv-localstack/bin/python",
        llm_python=ROOT / ".venv-llm/bin/python", llm_threads=1, template_path=ROOT / "template.yaml",
    )
    return StackOptions(**{**values, **overrides})


@contextmanager
def fake_llm_stack(llm: FakeLLM, data_dir: Path, model: str = "fake", env: Mapping[str, str] | None = None,
                   **overrides: Any) -> Iterator[DevStack]:
    """The offline stack without the local model, its worker calling ``llm`` as ``model``. The
    fake's address must be in the environment before the stack resets the settings its
    handlers read; ``env`` adds to it for the stack's lifetime."""
    with mock.patch.dict(os.environ, {"OPENAI_BASE_URL": llm.base_url, "LLM_MODEL": model, **(env or {})}):
        with DevStack(free_stack_options(data_dir, with_llm=False, **overrides)) as stack:
            yield stack

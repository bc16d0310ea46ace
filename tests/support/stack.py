"""The offline stack's options for a test or a benchmark: this checkout's services on free
127.0.0.1 ports, so runs never clash with `make dev` or with each other."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Mapping

from ragcore.config import Settings
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
def fake_llm_stack(llm: FakeLLM, data_dir: Path, model: str = "fake", settings: Mapping[str, Any] | None = None,
                   **overrides: Any) -> Iterator[DevStack]:
    """The offline stack without the local model, its worker calling ``llm`` as ``model``;
    ``settings`` adds to what its handlers are given."""
    given = Settings(openai_base_url=llm.base_url, llm_model=model, **(settings or {}))
    with DevStack(free_stack_options(data_dir, with_llm=False, settings=given, **overrides)) as stack:
        yield stack

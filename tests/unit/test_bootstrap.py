"""Which container the handlers get: the one installed, else one built from the environment."""

import pytest

from ragcore.bootstrap import get_container, installed, use
from ragcore.config import Settings


def test_an_installed_container_is_the_handlers_until_the_block_ends() -> None:
    outer = get_container()
    with installed(Settings(valkey_url="redis://installed:6379/0")) as container:
        assert get_container() is container
        assert container.settings.valkey_url == "redis://installed:6379/0"
    assert get_container() is outer


def test_without_one_the_container_is_built_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VALKEY_URL", "redis://from-env:6379/0")
    previous = use(None)
    try:
        assert get_container().settings.valkey_url == "redis://from-env:6379/0"
    finally:
        use(previous)

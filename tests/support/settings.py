"""The app's settings in tests: built from the environment a deployed function would have, and
changed per test through the ``configure`` fixture (tests/integration/conftest.py)."""

from __future__ import annotations

from typing import Callable, Mapping

from ragcore.bootstrap import Container
from ragcore.config import Settings

# configure(**changes): the app wired again with these settings changed.
Configure = Callable[..., Container]


def settings_from(env: Mapping[str, str]) -> Settings:
    """The settings a function reads from ``env``."""
    return Settings(**{name.lower(): value for name, value in env.items()})

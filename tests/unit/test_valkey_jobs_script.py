"""The Valkey script applies every part of a lifecycle rule the in-memory fake does: each flag of
``Rule`` is read by the script or written as fields by ``lifecycle.effects`` (the contract suite
runs the rules themselves on both)."""

from __future__ import annotations

import dataclasses

from ragcore.adapters.valkey_jobs import _TRANSITION_LUA, SCRIPT_FLAGS
from ragcore.domain.jobs import JobStatus
from ragcore.domain.lifecycle import Rule, effects

_FLAGS = [f.name for f in dataclasses.fields(Rule) if f.type in (bool, "bool")]


def test_rule_has_flags() -> None:
    assert {"owned", "unheld", "overdue", "cancel_wins"} <= set(_FLAGS)


def test_every_flag_reaches_the_script_or_its_writes() -> None:
    plain = Rule("plain", frozenset({JobStatus.QUEUED}), JobStatus.STARTED)
    for name in _FLAGS:
        if name in SCRIPT_FLAGS:
            assert f"rule.{name}" in _TRANSITION_LUA, name
        else:
            flagged = dataclasses.replace(plain, **{name: True})
            assert effects(flagged, 1.0) != effects(plain, 1.0), f"{name} is neither read nor written"

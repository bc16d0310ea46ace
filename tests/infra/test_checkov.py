"""The template passes checkov's CloudFormation checks (SAM included) with nothing left
unexplained: every finding is either fixed or skipped in the resource's Metadata with a reason.
Runs offline: no platform download, no update check (and no network at all where `unshare -n`
works, as it does for root)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from typing import Any

import pytest
import yaml

from tests.support.paths import ROOT

CHECKOV = ROOT / ".venv-checkov" / "bin" / "checkov"
TEMPLATE = ROOT / "template.yaml"
OFFLINE_ENV = {"CKV_SKIP_PACKAGE_UPDATE_CHECK": "true", "BC_SKIP_MAPPING": "TRUE", "LOG_LEVEL": "WARNING"}


class _CfnLoader(yaml.SafeLoader):
    """Reads CloudFormation short-form tags (!Ref, !If, ...) as plain values."""


_CfnLoader.add_multi_constructor("!", lambda loader, suffix, node: None)


def _no_network_prefix() -> list[str]:
    unshare = shutil.which("unshare")
    if unshare and subprocess.run([unshare, "-n", "true"], capture_output=True).returncode == 0:
        return [unshare, "-n"]
    return []


def skips_in_template() -> dict[tuple[str, str], str]:
    """(resource, check id) -> comment, for every checkov skip in the template."""
    text = TEMPLATE.read_text(encoding="utf-8")
    doc = yaml.load(text, Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass
    found: dict[tuple[str, str], str] = {}
    for name, resource in doc["Resources"].items():
        for skip in ((resource.get("Metadata") or {}).get("checkov") or {}).get("skip") or []:
            found[(name, skip.get("id"))] = str(skip.get("comment") or "").strip()
    return found


@pytest.fixture(scope="module")
def report() -> dict[str, Any]:
    assert CHECKOV.exists(), "run scripts/setup.sh --test (installs .venv-checkov)"
    command = [
        *_no_network_prefix(), str(CHECKOV), "--file", str(TEMPLATE), "--framework", "cloudformation",
        "--skip-download", "--download-external-modules", "false", "--output", "json",
    ]
    result = subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, timeout=120, env={**os.environ, **OFFLINE_ENV}
    )
    assert result.returncode in (0, 1), result.stdout[-3000:] + result.stderr[-3000:]
    data = json.loads(result.stdout)
    assert isinstance(data, dict) and data.get("check_type") == "cloudformation", result.stdout[:2000]
    return data


def _resource(check: dict[str, Any]) -> str:
    return str(check["resource"]).rsplit(".", 1)[-1]  # "AWS::SQS::Queue.JobsQueue" -> "JobsQueue"


def test_no_failed_checks(report: dict[str, Any]) -> None:
    summary = report["summary"]
    assert summary["parsing_errors"] == 0
    assert summary["passed"] > 0  # the template was parsed and its resources checked
    failed = [
        f"{c['check_id']} {c['resource']}: {c['check_name']}" for c in report["results"]["failed_checks"]
    ]
    assert failed == [], "fix these in template.yaml, or skip them there with a reason:\n" + "\n".join(failed)


def test_every_skip_has_a_reason() -> None:
    skips = skips_in_template()
    assert skips, "expected the template's documented skips"
    missing = [f"{resource} {check_id}" for (resource, check_id), comment in skips.items() if not comment]
    assert missing == [], f"skips without a comment: {missing}"
    assert all(check_id and str(check_id).startswith("CKV_") for _, check_id in skips)


def test_every_skip_is_still_needed(report: dict[str, Any]) -> None:
    """A skip that matches no check any more (fixed, renamed, resource gone) is removed."""
    skipped = {(_resource(c), c["check_id"]) for c in report["results"]["skipped_checks"]}
    stale = sorted(set(skips_in_template()) - skipped)
    assert stale == [], f"skips checkov no longer reports: {stale}"

"""Every function that can end a job may queue its completion webhook.

``bootstrap`` wraps the job store of any function given ``WEBHOOK_QUEUE_URL`` (the template's
Globals give it to all of them) in ``AnnouncingJobStore``, which sends ``sqs:SendMessage`` to
the webhook queue when a transition ends a job. A function without that grant gets AccessDenied
in AWS after the job has ended, and the job's webhook stays ``pending`` for good (no job message
is left to announce it again when the API or the events route settles an overdue job).

The rule: every ``AWS::Serverless::Function`` whose environment (its own or Globals') has
``WEBHOOK_QUEUE_URL`` is granted ``sqs:SendMessage`` on ``WebhookQueue``, unless it is named in
``NEVER_ENDS_JOBS`` with the reason its code never makes a job transition. A new function is
therefore held to the grant until someone states why it needs none.
"""

from __future__ import annotations

from typing import Any

import yaml

from ragcore.local.template import _CfnLoader
from tests.support.paths import ROOT

RAW = yaml.load((ROOT / "template.yaml").read_text(), Loader=_CfnLoader)  # noqa: S506
WEBHOOK_QUEUE = {"!GetAtt": "WebhookQueue.Arn"}

NEVER_ENDS_JOBS = {
    "AuthorizerFunction": "checks an API key; opens no job",
    "KeysFunction": "creates, lists and revokes API keys; opens no job",
    "WebhookFunction": "reads ended jobs to deliver them; never changes one",
}


def _functions() -> dict[str, dict[str, Any]]:
    return {name: resource["Properties"] for name, resource in RAW["Resources"].items()
            if resource["Type"] == "AWS::Serverless::Function"}


def _environment(properties: dict[str, Any]) -> dict[str, Any]:
    shared = RAW["Globals"]["Function"].get("Environment", {}).get("Variables", {})
    return {**shared, **properties.get("Environment", {}).get("Variables", {})}


def _statements(policies: list[Any]) -> list[dict[str, Any]]:
    """The inline statements of a function's Policies, both branches of an ``!If`` included."""
    found: list[dict[str, Any]] = []
    for policy in policies:
        if isinstance(policy, dict) and "!If" in policy:
            found += _statements([branch for branch in policy["!If"][1:] if isinstance(branch, dict)])
        elif isinstance(policy, dict) and "Statement" in policy:
            found += policy["Statement"]
    return found


def _may_send_to_webhook_queue(properties: dict[str, Any]) -> bool:
    for statement in _statements(properties.get("Policies", [])):
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        resources = statement["Resource"]
        resources = resources if isinstance(resources, list) else [resources]
        if statement["Effect"] == "Allow" and "sqs:SendMessage" in actions and WEBHOOK_QUEUE in resources:
            return True
    return False


def test_every_function_that_can_end_a_job_may_announce_its_webhook() -> None:
    functions = _functions()
    announcing = {name for name, properties in functions.items()
                  if "WEBHOOK_QUEUE_URL" in _environment(properties)}
    assert set(NEVER_ENDS_JOBS) <= set(functions)  # no stale exemption
    must_send = announcing - set(NEVER_ENDS_JOBS)
    # The functions that end jobs today: the worker and ingest (finish, fail, stop), the API
    # (cancel, settle overdue), the events route (settle overdue) and the redrive (stop).
    assert must_send == {"ApiFunction", "StreamFunction", "WorkerFunction", "IngestFunction",
                         "RedriveFunction"}
    missing = sorted(name for name in must_send if not _may_send_to_webhook_queue(functions[name]))
    assert missing == [], f"may end jobs but not queue their webhooks: {missing}"

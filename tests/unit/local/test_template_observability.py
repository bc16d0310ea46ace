"""The template's observability: tracing on every function, the alarms the runbook needs on
the metrics the code emits (names from the one catalogue), an optional alert topic, a
dashboard whose body is valid JSON, and no /metrics route (a local-runner endpoint)."""

from __future__ import annotations

import json
import re
from typing import Any

import yaml

from ragcore.local.metrics_endpoint import PATH as METRICS_PATH
from ragcore.local.template import _CfnLoader, load_template
from ragcore.observability import metrics as m
from tests.support.paths import ROOT

RAW = yaml.load((ROOT / "template.yaml").read_text(), Loader=_CfnLoader)  # noqa: S506
RESOURCES = RAW["Resources"]
ALARMS = {name: r["Properties"] for name, r in RESOURCES.items() if r["Type"] == "AWS::CloudWatch::Alarm"}


def _alarm_on(namespace: str, metric: str, dimension_value: Any) -> list[str]:
    return [
        name for name, alarm in ALARMS.items()
        if alarm.get("Namespace") == namespace and alarm.get("MetricName") == metric
        and [d["Value"] for d in alarm["Dimensions"]] == [dimension_value]
    ]


def test_every_function_is_traced() -> None:
    assert RAW["Globals"]["Function"]["Tracing"] == "Active"


def test_metrics_is_a_runner_endpoint_not_an_api_route() -> None:
    assert all(path != METRICS_PATH for _, path in load_template(ROOT / "template.yaml").api_routes)


def test_both_dead_letter_queues_and_both_queues_ages_are_alarmed() -> None:
    for dlq in ("JobsDeadLetterQueue", "IngestDeadLetterQueue"):
        (name,) = _alarm_on("AWS/SQS", "ApproximateNumberOfMessagesVisible", {"!GetAtt": f"{dlq}.QueueName"})
        assert ALARMS[name]["Threshold"] == 0 and ALARMS[name]["ComparisonOperator"] == "GreaterThanThreshold"
    for queue in ("JobsQueue", "IngestQueue"):
        assert len(_alarm_on("AWS/SQS", "ApproximateAgeOfOldestMessage", {"!GetAtt": f"{queue}.QueueName"})) == 1


def test_worker_errors_api_5xx_rate_and_p95_latency_are_alarmed() -> None:
    for function in ("WorkerFunction", "IngestFunction"):
        assert len(_alarm_on("AWS/Lambda", "Errors", {"!Ref": function})) == 1
    rate = ALARMS["Api5xxRateAlarm"]["Metrics"]
    assert {q["MetricStat"]["Metric"]["MetricName"] for q in rate if "MetricStat" in q} == {"5XXError", "Count"}
    assert [q["Id"] for q in rate if q.get("ReturnData")] == ["rate"]
    # p95 of what a user waits (submission -> answer), not the worker's compute alone.
    (p95,) = [name for name, alarm in ALARMS.items() if alarm.get("MetricName") == m.END_TO_END_LATENCY.name]
    assert ALARMS[p95]["Namespace"] == m.NAMESPACE and ALARMS[p95]["ExtendedStatistic"] == "p95"
    # As EmfMetrics emits it: the metric's own dimensions, then the service.
    assert ALARMS[p95]["Dimensions"] == [{"Name": "kind", "Value": "chat"}, {"Name": "service", "Value": m.SERVICE}]
    assert ALARMS[p95]["Threshold"] == {"!Ref": "LatencyP95AlarmMs"}


def test_failed_jobs_are_alarmed_by_kind() -> None:
    """Per-record failures never reach the Lambda Errors alarms (partial batch responses)."""
    chat = ALARMS["ChatJobsFailedAlarm"]
    assert (chat["Namespace"], chat["MetricName"], chat["Statistic"]) == (m.NAMESPACE, m.JOBS_FAILED.name, "Sum")
    assert chat["Dimensions"] == [{"Name": "kind", "Value": "chat"}, {"Name": "service", "Value": m.SERVICE}]
    documents = ALARMS["DocumentJobsFailedAlarm"]["Metrics"]
    kinds = {d["Value"] for q in documents if "MetricStat" in q
             for d in q["MetricStat"]["Metric"]["Dimensions"] if d["Name"] == "kind"}
    assert kinds == {"ingest", "delete"}
    assert all(q["MetricStat"]["Metric"]["MetricName"] == m.JOBS_FAILED.name for q in documents if "MetricStat" in q)
    assert [q["Id"] for q in documents if q.get("ReturnData")] == ["failed"]


def test_alarms_notify_only_when_an_alert_email_is_given() -> None:
    assert RESOURCES["AlertTopic"]["Condition"] == "HasAlertEmail"
    assert RAW["Parameters"]["AlertEmail"]["Default"] == ""
    topic = {"!If": ["HasAlertEmail", [{"!Ref": "AlertTopic"}], {"!Ref": "AWS::NoValue"}]}
    for name, alarm in ALARMS.items():
        assert alarm["AlarmActions"] == topic, name
        assert alarm["OKActions"] == topic, name  # and when it clears


def test_the_dashboard_is_valid_json_and_shows_only_metrics_the_code_emits() -> None:
    body = RESOURCES["Dashboard"]["Properties"]["DashboardBody"]["!Sub"]
    document = json.loads(re.sub(r"\$\{[^}]+\}", "1", body))  # as after substitution
    assert len(document["widgets"]) >= 6
    named = set(re.findall(r'\["ragcore", "(\w+)"', body)) | set(re.findall(r'MetricName=\\"(\w+)\\"', body))
    assert named and named <= {metric.name for metric in m.CATALOGUE}

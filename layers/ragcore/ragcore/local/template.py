"""Reads what the local runner needs from ``template.yaml``, so offline behaviour follows
the deployed configuration instead of a second copy of it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml


class _CfnLoader(yaml.SafeLoader):
    """Accepts CloudFormation short-form tags (!Ref, !GetAtt, !Sub, ...) as plain values."""


def _any_tag(loader: yaml.SafeLoader, tag_suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return {f"!{tag_suffix}": loader.construct_scalar(node)}
    if isinstance(node, yaml.SequenceNode):
        return {f"!{tag_suffix}": loader.construct_sequence(node, deep=True)}
    return {f"!{tag_suffix}": loader.construct_mapping(node, deep=True)}


_CfnLoader.add_multi_constructor("!", _any_tag)


@dataclass(frozen=True)
class FunctionSpec:
    logical_id: str
    code_uri: Path
    handler: str
    timeout: int


@dataclass(frozen=True)
class QueueSpec:
    logical_id: str
    visibility_timeout: int
    max_receive_count: int


@dataclass(frozen=True)
class SqsTrigger:
    function: FunctionSpec
    queue: QueueSpec
    batch_size: int
    batching_window_seconds: int


@dataclass(frozen=True)
class StreamingSpec:
    """The function behind the routes whose integration streams (``ResponseTransferMode:
    RESPONSE_STREAM``): the AWS Lambda Web Adapter runs its run script (``Handler``), which
    serves the ASGI app its ``ASGI_APP`` variable names on ``AWS_LWA_PORT``."""

    function: FunctionSpec
    app: str  # module:attribute
    routes: list[tuple[str, str]]  # (method, path)


@dataclass(frozen=True)
class Template:
    api: FunctionSpec
    api_routes: list[tuple[str, str]]  # (method, path) of the REST API events
    stage: str
    workers: list[SqsTrigger]  # every function fed by an SQS queue
    queue_env: dict[str, str]  # environment variable -> the queue (logical id) it names
    streaming: StreamingSpec | None = None

    def trigger(self, function_id: str) -> SqsTrigger:
        (found,) = [w for w in self.workers if w.function.logical_id == function_id]
        return found


def load_template(path: Path, api_id: str = "ApiFunction") -> Template:
    doc = yaml.load(path.read_text(encoding="utf-8"), Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass
    resources = doc["Resources"]
    defaults = doc.get("Globals", {}).get("Function", {})

    def function(logical_id: str) -> FunctionSpec:
        props = {**defaults, **resources[logical_id]["Properties"]}
        return FunctionSpec(
            logical_id=logical_id,
            code_uri=(path.parent / props["CodeUri"]).resolve(),
            handler=props["Handler"],
            timeout=int(props.get("Timeout", 3)),
        )

    def queue(queue_id: str) -> QueueSpec:
        props = resources[queue_id]["Properties"]
        return QueueSpec(
            logical_id=queue_id,
            visibility_timeout=int(props["VisibilityTimeout"]),
            max_receive_count=int(props["RedrivePolicy"]["maxReceiveCount"]),
        )

    workers = []
    for logical_id, resource in resources.items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        for event in (resource["Properties"].get("Events") or {}).values():
            if event["Type"] != "SQS":
                continue
            ref = event["Properties"]["Queue"]["!GetAtt"]
            workers.append(SqsTrigger(
                function=function(logical_id),
                queue=queue(ref.split(".")[0] if isinstance(ref, str) else ref[0]),
                batch_size=int(event["Properties"].get("BatchSize", 10)),
                batching_window_seconds=int(event["Properties"].get("MaximumBatchingWindowInSeconds", 0)),
            ))
    variables = defaults.get("Environment", {}).get("Variables", {})
    queue_env = {
        name: value["!Ref"] for name, value in variables.items()
        if isinstance(value, dict) and resources.get(value.get("!Ref", ""), {}).get("Type") == "AWS::SQS::Queue"
    }
    api_events = resources[api_id]["Properties"]["Events"].values()
    streaming = [
        (logical_id, (e["Properties"]["Method"].upper(), e["Properties"]["Path"]))
        for logical_id, resource in resources.items() if resource["Type"] == "AWS::Serverless::Function"
        for e in (resource["Properties"].get("Events") or {}).values()
        if e["Type"] == "Api" and e["Properties"].get("ResponseTransferMode") == "RESPONSE_STREAM"
    ]
    stream_ids = {logical_id for logical_id, _ in streaming}
    if len(stream_ids) > 1:
        raise ValueError(f"one streaming function is served offline, the template has {sorted(stream_ids)}")
    stream = None
    if stream_ids:
        (stream_id,) = stream_ids
        app = resources[stream_id]["Properties"]["Environment"]["Variables"]["ASGI_APP"]
        stream = StreamingSpec(function(stream_id), app, [route for _, route in streaming])
    return Template(
        api=function(api_id),
        api_routes=[
            (e["Properties"]["Method"].upper(), e["Properties"]["Path"])
            for e in api_events
            if e["Type"] == "Api"
        ],
        stage=str(doc.get("Parameters", {}).get("StageName", {}).get("Default", "v1")),
        workers=workers,
        queue_env=queue_env,
        streaming=stream,
    )

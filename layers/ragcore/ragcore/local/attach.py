"""Pointing a one-off command (``ragcore dlq redrive``) at a running ``ragcore dev`` stack:
its services listen on the ports in settings and its queues have fixed names."""

from __future__ import annotations

from pathlib import Path

import boto3

from ragcore.config import Settings
from ragcore.local.processes import offline_valkey_url
from ragcore.local.template import load_template

LOCAL_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}


def local_queue_name(queue_logical_id: str) -> str:
    return f"ragcore-{queue_logical_id.lower()}"


def running_stack_env(settings: Settings, template_path: Path = Path("template.yaml")) -> dict[str, str]:
    endpoint = f"http://{settings.dev_host}:{settings.dev_localstack_port}"
    sqs = boto3.client(
        "sqs", region_name=settings.aws_region, endpoint_url=endpoint,
        aws_access_key_id=LOCAL_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=LOCAL_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )
    env = {
        **LOCAL_CREDENTIALS,
        "AWS_REGION": settings.aws_region,
        "AWS_ENDPOINT_URL": endpoint,
        "VALKEY_URL": offline_valkey_url(settings.dev_host, settings.dev_valkey_port),
    }
    for variable, queue_id in load_template(template_path).queue_env.items():
        env[variable] = sqs.get_queue_url(QueueName=local_queue_name(queue_id))["QueueUrl"]
    return env

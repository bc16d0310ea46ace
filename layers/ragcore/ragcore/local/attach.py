"""Pointing a one-off command (``ragcore dlq redrive --local``, ``keys --local``, ``stats``) at
a running ``ragcore dev`` stack: its services listen on the ports in settings and its queues
have fixed names."""

from __future__ import annotations

from pathlib import Path

from ragcore.bootstrap import Container, aws_client, install
from ragcore.config import Settings
from ragcore.local.processes import offline_valkey_url
from ragcore.local.template import load_template

# LocalStack takes any pair; boto3 needs one to sign with.
LOCAL_CREDENTIALS = {"aws_access_key_id": "test", "aws_secret_access_key": "test"}


def local_queue_name(queue_logical_id: str) -> str:
    return f"ragcore-{queue_logical_id.lower()}"


def running_stack_settings(
    settings: Settings, template_path: Path = Path("template.yaml"), queues: bool = True
) -> Settings:
    """``settings`` with the running stack's Valkey, LocalStack and (``queues``) queues in place
    of the environment's. Without queues nothing is asked of LocalStack: a command that only
    needs Valkey (``keys --local``) runs with LocalStack down, from any directory."""
    local = settings.updated(
        aws_endpoint_url=f"http://{settings.dev_host}:{settings.dev_localstack_port}",
        valkey_url=offline_valkey_url(settings.dev_host, settings.dev_valkey_port),
        **LOCAL_CREDENTIALS,
    )
    if not queues:
        return local
    sqs = aws_client(local, "sqs")
    queue_urls = {
        variable.lower(): sqs.get_queue_url(QueueName=local_queue_name(queue_id))["QueueUrl"]
        for variable, queue_id in load_template(template_path).queue_env.items()
    }
    return local.updated(**queue_urls)


def attach(queues: bool = True) -> Container:
    """For the rest of this command, the app wired to the running stack (on the ports the
    environment's ``DEV_*`` settings name)."""
    return install(running_stack_settings(Settings(), queues=queues))

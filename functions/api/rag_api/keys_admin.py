"""The Lambda entry point ``rag_api.keys_admin.handler``: API keys in AWS, where Valkey sits
inside the VPC and ``ragcore keys`` cannot reach it. Invoked by hand:

    {"action": "create", "name": "my-app", "tenant"?: "...", "rate_per_second"?: 5,
     "burst"?: 20, "daily_quota"?: 10000}      -> the key, shown this once
    {"action": "list"}                          -> every key, without secrets
    {"action": "revoke", "key_id": "..."}       -> refused from now on
    {"action": "meter"}                         -> usage-plan meters in line with the keys
                                                   (after an upgrade or a replaced plan)
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any, Literal

from aws_lambda_powertools import Logger
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ragcore.bootstrap import get_container
from ragcore.domain.api_keys import ApiKey
from ragcore.domain.tenancy import TenantName
from ragcore.services.auth import create_key, revoke_key
from ragcore.services.meters import reconcile_meters

logger = Logger(service="ragcore-keys")


class KeysCommand(BaseModel):
    model_config = ConfigDict(extra="forbid")

    action: Literal["create", "list", "revoke", "meter"]
    name: str | None = Field(default=None, min_length=1, max_length=100)
    tenant: TenantName | None = None
    rate_per_second: float = Field(default=5.0, gt=0)
    burst: int = Field(default=20, ge=1)
    daily_quota: int | None = Field(default=None, ge=1)
    key_id: str | None = None


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    try:
        command = KeysCommand.model_validate(event)
    except ValidationError as exc:
        return {"error": f"invalid command: {exc.errors(include_url=False, include_input=False)}"}
    container = get_container()
    keys = container.key_store
    if command.action == "create":
        if not command.name:
            return {"error": "create needs a name"}
        record, secret = create_key(keys, container.api_key_pepper, command.name, command.tenant,
                                    command.rate_per_second, command.burst, command.daily_quota,
                                    gateway=container.gateway_keys)
        logger.info("api key created", key_id=record.key_id, tenant=record.tenant)  # never the key
        return {"key": secret, **_shown(record)}
    if command.action == "revoke":
        revoked = revoke_key(keys, command.key_id, container.gateway_keys) if command.key_id else None
        meter_removed = revoked is not None and revoked.gateway_key is None
        logger.info("api key revoke", key_id=command.key_id, revoked=revoked is not None, meter_removed=meter_removed)
        return {"key_id": command.key_id, "revoked": revoked is not None, "meter_removed": meter_removed}
    if command.action == "meter":
        if container.gateway_keys is None:
            return {"error": "no usage plan is configured (USAGE_PLAN_ID)"}
        report = reconcile_meters(keys, container.gateway_keys)
        logger.info("usage-plan meters reconciled", **asdict(report))
        return asdict(report)
    return {"keys": [_shown(k) for k in keys.list()]}


def _shown(key: ApiKey) -> dict[str, Any]:
    """The record without its usage-plan key value (an operator has no use for it)."""
    return key.model_dump(exclude={"gateway_key": {"value"}})

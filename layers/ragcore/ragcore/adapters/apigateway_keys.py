"""Client keys registered with API Gateway, in the usage plan that throttles each key at the
edge before a request reaches (and costs) a function."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from ragcore.domain.errors import DependencyUnavailableError


class ApiGatewayKeys:
    """Implements ``ports.GatewayKeys``. The gateway key has the same value as the client's key,
    so one ``x-api-key`` header passes both checks: API Gateway's (known key, throttle) and the
    app's (hash, limits, tenant)."""

    def __init__(self, client: Any, usage_plan_id: str) -> None:
        self._client = client
        self._usage_plan_id = usage_plan_id

    def register(self, name: str, value: str) -> str:
        try:
            key_id = self._client.create_api_key(name=name, value=value, enabled=True)["id"]
            self._client.create_usage_plan_key(usagePlanId=self._usage_plan_id, keyId=key_id, keyType="API_KEY")
        except (BotoCoreError, ClientError) as exc:
            raise DependencyUnavailableError("apigateway", type(exc).__name__) from exc
        return key_id

    def disable(self, gateway_key_id: str) -> None:
        try:
            self._client.update_api_key(
                apiKey=gateway_key_id, patchOperations=[{"op": "replace", "path": "/enabled", "value": "false"}]
            )
        except (BotoCoreError, ClientError) as exc:
            raise DependencyUnavailableError("apigateway", type(exc).__name__) from exc

"""API Gateway keys in a usage plan, one per client key: the plan's throttle then applies to
each client separately at the edge, before the API function runs.

Their values are not the clients' keys (those exist only as keyed hashes): the stage takes
the usage key from the authorizer (``ApiKeySourceType: AUTHORIZER``), never from a request,
so a value read through ``apigateway:GET`` lets nobody in.
"""

from __future__ import annotations

import logging
from typing import Any

from ragcore.domain.api_keys import GatewayKey

log = logging.getLogger(__name__)


class ApiGatewayKeys:
    def __init__(self, client: Any, usage_plan_id: str) -> None:
        self._client = client
        self._usage_plan_id = usage_plan_id

    def issue(self, key_id: str) -> GatewayKey:
        created = self._client.create_api_key(
            name=f"ragcore-{key_id}", description="usage meter of a ragcore API key", enabled=True
        )
        key = GatewayKey(id=created["id"], value=created["value"])
        try:
            self._client.create_usage_plan_key(usagePlanId=self._usage_plan_id, keyId=key.id, keyType="API_KEY")
        except Exception:
            try:
                self.withdraw(key)
            except Exception:  # the first error is the one to report
                log.warning("left an API Gateway key outside the plan: %s", key.id, exc_info=True)
            raise
        return key

    def withdraw(self, gateway_key: GatewayKey) -> None:
        """Deleting the key takes it out of the plan too."""
        try:
            self._client.delete_api_key(apiKey=gateway_key.id)
        except self._client.exceptions.NotFoundException:
            pass  # already gone: withdrawing twice is done

    def holds(self, gateway_key: GatewayKey) -> bool:
        try:
            self._client.get_usage_plan_key(usagePlanId=self._usage_plan_id, keyId=gateway_key.id)
        except self._client.exceptions.NotFoundException:
            return False
        return True

"""The Lambda entry point ``rag_api.authorizer.handler``: API Gateway's REQUEST authorizer.

It refuses unknown and revoked keys before the API function runs, and names each client's
meter in the stage's usage plan (``usageIdentifierKey``), so the plan throttles every key on
its own at the edge. The API checks the key again and applies the exact per-key limits; the
authorizer spends nothing of them (a request is counted once).

Results are not cached (``ReauthorizeEvery: 0``): with caching on, API Gateway would demand
every identity source on every request, and a key may come in either of two headers.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger

from ragcore.bootstrap import get_container
from ragcore.domain.errors import UnauthorizedError
from ragcore.services.auth import authenticate, presented_key

logger = Logger(service="ragcore-authorizer")

# The one message API Gateway turns into its UNAUTHORIZED (401) response; anything else an
# authorizer raises becomes AUTHORIZER_FAILURE (template.yaml answers 503 for it).
UNAUTHORIZED = "Unauthorized"


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    headers = {name.lower(): value for name, value in (event.get("headers") or {}).items()}
    container = get_container()
    try:
        key = authenticate(presented_key(headers.get("authorization"), headers.get("x-api-key")),
                           container.key_store, container.api_key_pepper)
    except UnauthorizedError:
        raise Exception(UNAUTHORIZED) from None
    if key.gateway_key is None:
        # Made where no usage plan was configured: it has no meter, so the gateway would
        # answer a bare 403. Refuse it plainly instead; `keys create` in AWS gives one.
        logger.warning("api key has no usage-plan key; create a new key", key_id=key.key_id)
        raise Exception(UNAUTHORIZED)
    return {
        "principalId": key.key_id,
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": event["methodArn"]}],
        },
        "usageIdentifierKey": key.gateway_key.value,
        "context": {"key_id": key.key_id, "tenant": key.tenant},
    }

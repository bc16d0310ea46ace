"""The edge in AWS: API Gateway's authorizer and the usage plan's per-key meters, with real
Valkey and LocalStack's API Gateway control plane (its data plane does not run here, so the
authorizer is called as API Gateway would call it)."""

from __future__ import annotations

import uuid
from typing import Any, Iterator

import pytest

from rag_api.authorizer import handler as authorizer
from rag_api.keys_admin import handler as keys_function
from ragcore.bootstrap import aws_client, get_container
from ragcore.domain.errors import DependencyUnavailableError
from ragcore.local.lambda_context import LocalLambdaContext
from ragcore.services.auth import create_key, revoke_key
from ragcore.services.meters import reconcile_meters
from tests.support.settings import Configure

METHOD_ARN = "arn:aws:execute-api:us-east-1:000000000000:abc123/v1/POST/chat"
PEPPER = "a-long-random-pepper-from-secrets-manager"


@pytest.fixture
def gateway(lambda_env: dict[str, str]) -> Any:
    return aws_client(get_container().settings, "apigateway")


@pytest.fixture
def usage_plan(gateway: Any, configure: Configure) -> Iterator[str]:
    plan = gateway.create_usage_plan(name=f"plan-{uuid.uuid4().hex[:8]}",
                                     throttle={"rateLimit": 20.0, "burstLimit": 40})
    configure(aws_lambda_function_name="KeysFunction", auth_disabled=False, api_key_pepper=PEPPER,
              usage_plan_id=plan["id"])
    yield plan["id"]
    gateway.delete_usage_plan(usagePlanId=plan["id"])


def request(**headers: str) -> dict[str, Any]:
    """A REQUEST authorizer's event, as API Gateway sends it."""
    return {"type": "REQUEST", "methodArn": METHOD_ARN, "httpMethod": "POST", "path": "/chat", "headers": headers}


def context() -> LocalLambdaContext:
    return LocalLambdaContext("AuthorizerFunction", 5)


def test_a_key_made_in_aws_is_metered_at_the_edge_until_revoked(gateway: Any, usage_plan: str) -> None:
    created = keys_function({"action": "create", "name": "app"}, LocalLambdaContext("KeysFunction", 30))
    meter = created["gateway_key"]
    assert set(meter) == {"id"}  # the operator sees which meter, not its value
    in_plan = gateway.get_usage_plan_keys(usagePlanId=usage_plan)["items"]
    assert [k["id"] for k in in_plan] == [meter["id"]]
    value = gateway.get_api_key(apiKey=meter["id"], includeValue=True)["value"]
    assert value != created["key"] and created["key"] not in value  # not the client's key

    for headers in ({"Authorization": f"Bearer {created['key']}"}, {"X-Api-Key": created["key"]}):
        allowed = authorizer(request(**headers), context())
        assert allowed["usageIdentifierKey"] == value
        assert allowed["principalId"] == created["key_id"]
        assert allowed["policyDocument"]["Statement"] == [
            {"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": METHOD_ARN}]
        assert allowed["context"]["tenant"] == created["tenant"]

    revoked = keys_function({"action": "revoke", "key_id": created["key_id"]}, LocalLambdaContext("KeysFunction", 30))
    assert revoked["revoked"] is True
    assert gateway.get_usage_plan_keys(usagePlanId=usage_plan)["items"] == []
    with pytest.raises(Exception, match="^Unauthorized$"):
        authorizer(request(Authorization=f"Bearer {created['key']}"), context())


@pytest.mark.parametrize("headers", [
    {}, {"Authorization": "Bearer rk_nope_nope"}, {"x-api-key": "not-a-key"}, {"Authorization": "Basic eA=="},
])
def test_the_authorizer_refuses_what_the_api_refuses(usage_plan: str, headers: dict[str, str]) -> None:
    with pytest.raises(Exception, match="^Unauthorized$"):
        authorizer(request(**headers), context())


def test_a_key_without_a_meter_is_refused_plainly(usage_plan: str) -> None:
    """Made where no usage plan was configured: API Gateway would answer it a bare 403."""
    container = get_container()
    _, secret = create_key(container.key_store, container.api_key_pepper, "offline-made")
    with pytest.raises(Exception, match="^Unauthorized$"):
        authorizer(request(Authorization=f"Bearer {secret}"), context())


def test_an_unreachable_valkey_is_a_failure_not_a_refusal(usage_plan: str, configure: Configure) -> None:
    """A refusal would answer 401 to a good key; a failure is AUTHORIZER_FAILURE, a 503."""
    configure(valkey_url="redis://127.0.0.1:9/0", dependency_timeout_seconds=0.5)
    with pytest.raises(DependencyUnavailableError):
        authorizer(request(Authorization="Bearer rk_abc_def"), context())


def test_a_failed_record_takes_its_meter_back(gateway: Any, usage_plan: str, monkeypatch: pytest.MonkeyPatch) -> None:
    container = get_container()

    def broken_add(*_: object) -> None:
        raise ConnectionError("valkey went away")

    monkeypatch.setattr(container.key_store, "add", broken_add)
    with pytest.raises(ConnectionError):
        create_key(container.key_store, container.api_key_pepper, "doomed", gateway=container.gateway_keys)
    assert gateway.get_usage_plan_keys(usagePlanId=usage_plan)["items"] == []


def test_a_meter_the_plan_refuses_is_deleted_again(gateway: Any, usage_plan: str, monkeypatch: pytest.MonkeyPatch) -> None:
    container = get_container()
    before = {k["id"] for k in gateway.get_api_keys()["items"]}
    plan_keys = container.gateway_keys

    def refused(**_: object) -> None:
        raise RuntimeError("TooManyRequestsException")

    monkeypatch.setattr(plan_keys._client, "create_usage_plan_key", refused)
    with pytest.raises(RuntimeError):
        create_key(container.key_store, container.api_key_pepper, "unlucky", gateway=plan_keys)
    assert {k["id"] for k in gateway.get_api_keys()["items"]} == before


def test_a_revoke_stands_when_its_meter_cannot_go_and_reconciling_removes_it(
    gateway: Any, usage_plan: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    container = get_container()
    plan_keys = container.gateway_keys
    record, secret = create_key(container.key_store, container.api_key_pepper, "app", gateway=plan_keys)
    real_delete = plan_keys._client.delete_api_key

    def throttled(**_: object) -> None:
        raise RuntimeError("TooManyRequestsException")

    monkeypatch.setattr(plan_keys._client, "delete_api_key", throttled)
    revoked = revoke_key(container.key_store, record.key_id, plan_keys)
    assert revoked is not None and not revoked.active
    assert revoked.gateway_key == record.gateway_key  # still named: the meter is still there
    with pytest.raises(Exception, match="^Unauthorized$"):  # but the key is refused at once
        authorizer(request(Authorization=f"Bearer {secret}"), context())
    assert record.key_id in reconcile_meters(container.key_store, plan_keys).failed

    monkeypatch.setattr(plan_keys._client, "delete_api_key", real_delete)
    report = reconcile_meters(container.key_store, plan_keys)  # (other tests' keys get meters too)
    assert record.key_id in report.withdrawn and report.failed == []
    in_plan = [k["id"] for k in gateway.get_usage_plan_keys(usagePlanId=usage_plan)["items"]]
    assert record.gateway_key is not None and record.gateway_key.id not in in_plan
    assert next(k for k in container.key_store.list() if k.key_id == record.key_id).gateway_key is None


def test_reconciling_meters_keys_made_before_the_plan_and_after_it_was_replaced(
    gateway: Any, usage_plan: str
) -> None:
    """An upgrade (keys without meters) and a replaced plan (meters it does not hold) both
    end with every active key metered in the current plan; none is left out."""
    container = get_container()
    plan_keys = container.gateway_keys
    _, old_secret = create_key(container.key_store, container.api_key_pepper, "before-the-plan")
    stale, stale_secret = create_key(container.key_store, container.api_key_pepper, "stale", gateway=plan_keys)
    gateway.delete_usage_plan_key(usagePlanId=usage_plan, keyId=stale.gateway_key.id)  # type: ignore[union-attr]
    with pytest.raises(Exception, match="^Unauthorized$"):
        authorizer(request(Authorization=f"Bearer {old_secret}"), context())

    report = keys_function({"action": "meter"}, LocalLambdaContext("KeysFunction", 30))
    assert sorted(report["issued"]) == sorted(k.key_id for k in container.key_store.list() if k.active)
    assert report["failed"] == []
    in_plan = {k["value"] for k in gateway.get_usage_plan_keys(usagePlanId=usage_plan)["items"]}
    for secret in (old_secret, stale_secret):
        assert authorizer(request(Authorization=f"Bearer {secret}"), context())["usageIdentifierKey"] in in_plan
    again = keys_function({"action": "meter"}, LocalLambdaContext("KeysFunction", 30))
    assert again == {"issued": [], "withdrawn": [], "failed": []}

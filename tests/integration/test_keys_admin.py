"""Managing API keys: the CLI offline and the KeysFunction in AWS, on real Valkey."""

from __future__ import annotations

from typing import Any, Callable

import pytest

from ragcore.bootstrap import get_container
from ragcore.cli import main
from ragcore.domain.api_keys import digest
from ragcore.domain.errors import UnauthorizedError
from ragcore.local.lambda_context import LocalLambdaContext
from ragcore.services.auth import authenticate
from tests.support.settings import Configure

pytestmark = pytest.mark.usefixtures("lambda_env")


def test_the_cli_creates_lists_and_revokes_keys(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["keys", "create", "--name", "ci-bot", "--rate", "2", "--burst", "4", "--daily-quota", "100"]) == 0
    secret = capsys.readouterr().out.splitlines()[-1]
    container = get_container()
    key = authenticate(secret, container.key_store, container.api_key_pepper)
    assert (key.name, key.rate_per_second, key.burst, key.daily_quota) == ("ci-bot", 2, 4, 100)
    assert main(["keys", "list"]) == 0
    listing = capsys.readouterr().out
    assert key.key_id in listing and "ci-bot" in listing and secret not in listing
    assert main(["keys", "revoke", key.key_id]) == 0
    with pytest.raises(UnauthorizedError):
        authenticate(secret, container.key_store, container.api_key_pepper)
    assert main(["keys", "revoke", key.key_id]) == 1  # already revoked


def test_the_keys_function_refuses_to_run_without_a_pepper_in_lambda(cold_start: Callable[..., None]) -> None:
    from rag_api.keys_admin import handler

    cold_start(AWS_LAMBDA_FUNCTION_NAME="KeysFunction", AUTH_DISABLED="0")
    with pytest.raises(ValueError, match="API_KEY_PEPPER"):
        handler({"action": "create", "name": "x"}, LocalLambdaContext("KeysFunction", 30))
    cold_start(AWS_LAMBDA_FUNCTION_NAME="KeysFunction", AUTH_DISABLED="1", API_KEY_PEPPER="p" * 40)
    with pytest.raises(ValueError, match="local development only"):
        handler({"action": "create", "name": "x"}, LocalLambdaContext("KeysFunction", 30))


def test_the_keys_function_shows_a_new_key_once(configure: Configure) -> None:
    from rag_api.keys_admin import handler

    configure(aws_lambda_function_name="KeysFunction", auth_disabled=False,
              api_key_pepper="a-long-random-pepper-from-secrets-manager")
    context = LocalLambdaContext("KeysFunction", 30)
    created: dict[str, Any] = handler({"action": "create", "name": "app", "daily_quota": 50}, context)
    assert created["key"].startswith("rk_") and created["daily_quota"] == 50
    store = get_container().key_store
    assert store.find(digest(created["key"], "a-long-random-pepper-from-secrets-manager")) is not None
    listed = handler({"action": "list"}, context)["keys"]
    assert created["key_id"] in [k["key_id"] for k in listed]
    assert all("key" not in k for k in listed)
    assert handler({"action": "revoke", "key_id": created["key_id"]}, context)["revoked"] is True
    assert "error" in handler({"action": "drop-tables"}, context)
    assert "error" in handler({"action": "create", "name": "x", "tenant": "Bad Tenant!"}, context)

"""Idempotency keys in Valkey: one string per key, so every command names one key and the
store runs unchanged on a cluster (ElastiCache Serverless).

A key is reserved with one ``SET NX EX GET``: it writes the reservation only if the key is
absent and answers what was there otherwise, so of concurrent requests exactly one reserves
it, and every other one learns in the same round trip who holds it. Saving the answer and
releasing the key are compare-and-set scripts on the reservation's own value (it carries a
random token), so a request whose reservation expired cannot overwrite or free the key that a
later request holds.
"""

from __future__ import annotations

import base64
import json
import secrets
from typing import Any

from ragcore.adapters.valkey_client import valkey_errors
from ragcore.ports import KeyUse, SavedResponse

_SAVE_LUA = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
return 1
"""
_RELEASE_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 0
"""


class ValkeyIdempotencyStore:
    """Implements ``ports.IdempotencyStore``."""

    def __init__(self, client: Any, prefix: str = "ragcore:") -> None:
        """``client``: ``valkey.Valkey`` or ``valkey_client.ClusterClient``."""
        self._client = client
        self._prefix = prefix
        self._save = client.register_script(_SAVE_LUA)
        self._release = client.register_script(_RELEASE_LUA)

    def _name(self, key: str) -> str:
        return f"{self._prefix}idem:{key}"

    def reserve(self, key: str, fingerprint: str, hold_seconds: int) -> KeyUse:
        token = secrets.token_hex(16)
        with valkey_errors():
            found = self._client.set(self._name(key), _held(fingerprint, token), nx=True, ex=hold_seconds, get=True)
        if found is None:
            return KeyUse(fingerprint, token=token)
        record = json.loads(found)
        response = record.get("response")
        return KeyUse(record["fingerprint"], response=_response(response) if response else None)

    def save(self, key: str, use: KeyUse, response: SavedResponse, ttl_seconds: int) -> bool:
        saved = json.dumps({"fingerprint": use.fingerprint, "response": {
            "status": response.status, "headers": [list(h) for h in response.headers],
            "body": base64.b64encode(response.body).decode()}})
        with valkey_errors():
            return bool(self._save(keys=[self._name(key)], args=[_held(use.fingerprint, use.token), saved, ttl_seconds]))

    def release(self, key: str, use: KeyUse) -> None:
        with valkey_errors():
            self._release(keys=[self._name(key)], args=[_held(use.fingerprint, use.token)])


def _held(fingerprint: str, token: str | None) -> str:
    """The reservation's value: what ``save`` and ``release`` compare with."""
    return json.dumps({"fingerprint": fingerprint, "token": token})


def _response(saved: dict[str, Any]) -> SavedResponse:
    return SavedResponse(status=int(saved["status"]), headers=tuple((k, v) for k, v in saved["headers"]),
                         body=base64.b64decode(saved["body"]))

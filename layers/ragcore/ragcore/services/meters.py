"""Usage-plan meters (API Gateway keys, one per client key) kept in line with the key records.

The records are the truth: the API and the authorizer both read them. A meter is bookkeeping
at the edge, so failing to remove one never undoes a revoke; it is reported and retried by
``reconcile_meters``, which also gives meters to keys that have none (made before the usage
plan existed) or whose meter the plan no longer holds (the plan was replaced).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from ragcore.domain.api_keys import ApiKey
from ragcore.ports import GatewayKeys, KeyStore

log = logging.getLogger(__name__)


def withdraw_meter(gateway: GatewayKeys, key: ApiKey) -> bool:
    """False, logged, when the gateway refused: the caller keeps the meter on the record."""
    if key.gateway_key is None:
        return True
    try:
        gateway.withdraw(key.gateway_key)
    except Exception:
        log.warning("usage-plan meter of key %s not removed; `keys meter` retries", key.key_id, exc_info=True)
        return False
    return True


@dataclass
class MeterReport:
    issued: list[str] = field(default_factory=list)
    withdrawn: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


def reconcile_meters(keys: KeyStore, gateway: GatewayKeys) -> MeterReport:
    report = MeterReport()
    for key in keys.list():
        try:
            if key.active and (key.gateway_key is None or not gateway.holds(key.gateway_key)):
                if not withdraw_meter(gateway, key):
                    raise RuntimeError("the stale meter could not be removed")
                fresh = gateway.issue(key.key_id)
                keys.set_gateway_key(key.key_id, fresh)
                report.issued.append(key.key_id)
            elif not key.active and key.gateway_key is not None:
                if not withdraw_meter(gateway, key):
                    raise RuntimeError("the meter could not be removed")
                keys.set_gateway_key(key.key_id, None)
                report.withdrawn.append(key.key_id)
        except Exception:
            log.warning("meter of key %s not reconciled", key.key_id, exc_info=True)
            report.failed.append(key.key_id)
    return report

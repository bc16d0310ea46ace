"""A real Valkey cluster of three primaries for tests: three ``valkey-server`` processes on
free 127.0.0.1 ports, the 16384 slots split three ways, joined with CLUSTER MEET. Where the
single node the offline stack runs (``ValkeyService``) shows that no command spans two slots,
this shows that the cluster client finds each key's node and that keys do spread."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path
from typing import Any

import valkey

from ragcore.local.processes import CLUSTER_SLOTS, ValkeyService, offline_valkey_url
from tests.support.paths import free_port

HOST = "127.0.0.1"
# The Valkeys a store contract test runs on, by the fixture giving each one's URL
# (tests/integration/conftest.py): the single node every other test uses, which refuses a
# cross-slot command, and three nodes, where keys spread over shards.
VALKEY_FIXTURES = {"one node": "valkey_url", "three nodes": "three_node_valkey_url"}


class _Node(ValkeyService):
    """A cluster node whose slots the cluster assigns, not the node itself."""

    def _own_every_slot(self) -> None:
        pass


class ThreeNodeCluster:
    def __init__(self, data_dir: Path) -> None:
        self.ports = [free_port() for _ in range(3)]
        self.bus_ports = [free_port() for _ in range(3)]
        self.nodes = [
            _Node(HOST, port, data_dir / f"node-{i}", bus_port=bus)
            for i, (port, bus) in enumerate(zip(self.ports, self.bus_ports))
        ]
        self.url = offline_valkey_url(HOST, self.ports[0])  # any node will do: it finds the others

    def __enter__(self) -> "ThreeNodeCluster":
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        for node in self.nodes:
            node.start()
        admins = [valkey.Valkey(host=HOST, port=p, decode_responses=True) for p in self.ports]
        bounds = [0, CLUSTER_SLOTS // 3, 2 * CLUSTER_SLOTS // 3, CLUSTER_SLOTS]
        for i, admin in enumerate(admins):
            admin.execute_command("CLUSTER", "ADDSLOTSRANGE", bounds[i], bounds[i + 1] - 1)
        for port, bus in zip(self.ports[1:], self.bus_ports[1:]):
            admins[0].execute_command("CLUSTER", "MEET", HOST, port, bus)
        deadline = time.monotonic() + 30
        while not all(_settled(admin) for admin in admins):
            if time.monotonic() > deadline:
                raise RuntimeError("the three-node Valkey cluster did not reach cluster_state:ok")
            time.sleep(0.1)
        for admin in admins:
            admin.close()

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()


def _settled(admin: valkey.Valkey) -> bool:
    info = dict(line.split(":", 1) for line in admin.execute_command("CLUSTER", "INFO").splitlines() if ":" in line)
    return (info.get("cluster_state") == "ok" and info.get("cluster_known_nodes") == "3"
            and info.get("cluster_slots_ok") == str(CLUSTER_SLOTS))


def keys_per_node(client: Any, pattern: str) -> Counter[str]:
    """How many keys matching ``pattern`` each primary of a cluster client holds."""
    return Counter({node.name: len(client.keys(pattern, target_nodes=node)) for node in client.get_primaries()})


def single_node_admin(url: str) -> valkey.Valkey:
    """A standalone client on the node a cluster URL names: it sends what it is given, so it
    sees the server's own refusals (CROSSSLOT) where the cluster client refuses first."""
    parsed = valkey.connection.parse_url(url.split("?", 1)[0])
    return valkey.Valkey(host=parsed["host"], port=parsed["port"], decode_responses=True)

"""The webhook sender against real local HTTP(S) servers: it connects to the address it
checked, keeps the host's name in ``Host`` and in TLS (SNI and the certificate check), follows
no redirect, and refuses a host any of whose addresses is internal."""

from __future__ import annotations

import ipaddress
import ssl
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterator

import pytest

from ragcore.adapters.webhook_http import PinnedHttpSender
from ragcore.domain.callbacks import Address
from ragcore.domain.errors import CallbackRefusedError, CallbackUnreachableError
from tests.support.webhook_receiver import WebhookReceiver


def resolving(*addresses: str):  # noqa: ANN201 - a resolver
    def resolve(host: str, port: int) -> list[Address]:
        return [ipaddress.ip_address(a) for a in addresses]

    return resolve


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as running:
        yield running


def test_a_name_is_called_at_the_address_it_resolved_to_with_its_own_host_header(receiver: WebhookReceiver) -> None:
    port = receiver.url.rsplit(":", 1)[1]
    sender = PinnedHttpSender(2.0, allow_private=True, resolver=resolving("127.0.0.1"))
    status = sender.post(f"http://hooks.example.test:{port}/in?x=1", b"{}", {"webhook-id": "msg_1"})
    assert status == 200
    (delivery,) = receiver.deliveries
    assert delivery.path == "/in?x=1" and delivery.headers["host"] == f"hooks.example.test:{port}"
    assert delivery.headers["webhook-id"] == "msg_1"


@pytest.mark.parametrize("addresses", [
    ("127.0.0.1",), ("93.184.216.34", "10.1.2.3"), ("169.254.169.254",), ("::1",), ("::ffff:192.168.1.1",),
    ("fd00::5",), ("0.0.0.0",), ("224.0.0.1",), ("100.64.0.1",),
])
def test_a_host_with_any_internal_address_is_refused_without_a_connection(
    receiver: WebhookReceiver, addresses: tuple[str, ...]
) -> None:
    port = receiver.url.rsplit(":", 1)[1]
    sender = PinnedHttpSender(2.0, allow_private=False, resolver=resolving(*addresses))
    with pytest.raises(CallbackRefusedError, match="the service does not call it"):
        sender.post(f"http://rebound.example.test:{port}/", b"{}", {})
    assert receiver.deliveries == []


def test_a_redirect_is_an_answer_not_followed(receiver: WebhookReceiver) -> None:
    receiver.script = [307]
    sender = PinnedHttpSender(2.0, allow_private=True)
    assert sender.post(f"{receiver.url}/moved", b"{}", {}) == 307
    assert len(receiver.deliveries) == 1


def test_nothing_listening_is_unreachable() -> None:
    from tests.support.paths import free_port

    with pytest.raises(CallbackUnreachableError, match="no answer from 127.0.0.1"):
        PinnedHttpSender(1.0, allow_private=True).post(f"http://127.0.0.1:{free_port()}/", b"{}", {})


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for ``receiver.test`` only."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=receiver.test", "-addext", "subjectAltName=DNS:receiver.test",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    return cert, key


@pytest.fixture
def tls_receiver(certificate: tuple[Path, Path]) -> Iterator[tuple[int, list[str]]]:
    hosts: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            hosts.append(self.headers["Host"])
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificate)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server.server_address[1], hosts
    finally:
        server.shutdown()
        server.server_close()


def test_tls_checks_the_hosts_certificate_while_connecting_to_the_checked_address(
    certificate: tuple[Path, Path], tls_receiver: tuple[int, list[str]]
) -> None:
    port, hosts = tls_receiver
    trusted = ssl.create_default_context(cafile=str(certificate[0]))
    sender = PinnedHttpSender(2.0, allow_private=True, resolver=resolving("127.0.0.1"), trusted=trusted)
    assert sender.post(f"https://receiver.test:{port}/hook", b"{}", {}) == 204
    assert hosts == [f"receiver.test:{port}"]
    # The same address under another name: its certificate does not name it, so no request is sent.
    with pytest.raises(CallbackUnreachableError, match="no answer from impostor.test"):
        sender.post(f"https://impostor.test:{port}/hook", b"{}", {})
    assert hosts == [f"receiver.test:{port}"]

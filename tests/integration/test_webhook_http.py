"""The webhook sender against real local HTTP(S) servers: it connects to the address it
checked, keeps the host's name in ``Host`` and in TLS (SNI and the certificate check), follows
no redirect, refuses a host any of whose addresses is internal, and gives up on a receiver that
trickles its answer at the POST's deadline (the delivery is then tried again later)."""

from __future__ import annotations

import ipaddress
import socket
import ssl
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterator

import pytest

from ragcore.adapters.valkey_client import connect
from ragcore.adapters.valkey_jobs import RESULT_FIELD, ValkeyJobStore
from ragcore.adapters.valkey_webhooks import ValkeyWebhookSecrets, ValkeyWebhookStore
from ragcore.adapters.webhook_http import PinnedHttpSender
from ragcore.domain.callbacks import (
    Address,
    RetrySchedule,
    WebhookState,
    ascii_callback_url,
    post_deadline_seconds,
)
from ragcore.domain.errors import CallbackRefusedError, CallbackUnreachableError
from ragcore.domain.jobs import new_job
from ragcore.services.webhooks import DeliveryOutcome, RetryDelivery, WebhookPorts, deliver
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


def test_an_internationalised_host_is_called_by_its_ascii_name(receiver: WebhookReceiver) -> None:
    """The form submission keeps (``domain.callbacks``): its Host header can be sent."""
    port = receiver.url.rsplit(":", 1)[1]
    url = ascii_callback_url(f"http://Bücher.example:{port}/in")
    sender = PinnedHttpSender(2.0, allow_private=True, resolver=resolving("127.0.0.1"))
    assert sender.post(url, b"{}", {}) == 200
    (delivery,) = receiver.deliveries
    assert delivery.headers["host"] == f"xn--bcher-kva.example:{port}"


@pytest.mark.parametrize("addresses", [
    ("127.0.0.1",), ("93.184.216.34", "10.1.2.3"), ("169.254.169.254",), ("::1",), ("::ffff:192.168.1.1",),
    ("fd00::5",), ("fec0::5",), ("0.0.0.0",), ("224.0.0.1",), ("100.64.0.1",),
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


class TricklingReceiver:
    """Reads a POST, then sends its answer's status line and headers a byte every 0.2 s (over
    8 s in all): no single read waits long, so only an overall deadline ends the POST. Over TLS
    when given a server context. ``cut_off``: the sender hung up before the answer was out."""

    ANSWER = b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\nX-Slow: yes\r\n\r\n"

    def __init__(self, context: ssl.SSLContext | None = None) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._context = context
        self.port = self._listener.getsockname()[1]
        self.cut_off = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:  # closed
                return
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        try:
            if self._context is not None:
                conn = self._context.wrap_socket(conn, server_side=True)
            request = b""
            while b"\r\n\r\n" not in request:
                request += conn.recv(4096)
            head, _, body = request.partition(b"\r\n\r\n")
            length = int(next(line.split(b":")[1] for line in head.lower().split(b"\r\n")
                              if line.startswith(b"content-length:")))
            while len(body) < length:
                body += conn.recv(4096)
            for byte in self.ANSWER:
                conn.sendall(bytes([byte]))
                time.sleep(0.2)
            # The last byte may be buffered unread; a peer that hung up shows on the next send.
            conn.sendall(b"x" * 65536)
        except OSError:
            self.cut_off.set()
        finally:
            conn.close()

    def close(self) -> None:
        self._listener.close()


@pytest.mark.parametrize("tls", [False, True], ids=["http", "https"])
def test_a_receiver_that_trickles_its_answer_is_given_up_at_the_deadline(
    certificate: tuple[Path, Path], tls: bool
) -> None:
    context = None
    if tls:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(*certificate)
    receiver = TricklingReceiver(context)
    timeout = 0.5
    deadline = post_deadline_seconds(timeout)
    sender = PinnedHttpSender(timeout, allow_private=True, resolver=resolving("127.0.0.1"),
                              trusted=ssl.create_default_context(cafile=str(certificate[0])))
    scheme = "https" if tls else "http"
    started = time.monotonic()
    try:
        given_up = f"no answer from receiver.test within {deadline:g} s"
        with pytest.raises(CallbackUnreachableError, match=given_up):
            sender.post(f"{scheme}://receiver.test:{receiver.port}/hook", b"{}", {})
        took = time.monotonic() - started
        assert deadline - 0.1 <= took <= deadline + 2  # not the 8 s the receiver would take
        assert receiver.cut_off.wait(5)
    finally:
        receiver.close()


def test_a_delivery_given_up_at_the_deadline_is_tried_again_later(valkey_url: str) -> None:
    """The whole delivery, with Valkey's stores: the attempt is recorded and retried on the
    schedule, not lost and not a crash."""
    receiver = TricklingReceiver()
    client = connect(valkey_url, timeout_seconds=5)
    jobs = ValkeyJobStore(client, ttl_seconds=600)
    tenant = f"t{time.monotonic_ns()}"
    ValkeyWebhookSecrets(client).create(tenant)
    job = new_job("chat", {"query": "q", "callback_url": f"http://127.0.0.1:{receiver.port}/hook"}, 600,
                  owner=tenant)
    jobs.create(job)
    jobs.request_cancel(job.job_id)  # a queued job's cancel ends it: stopped
    ports = WebhookPorts(jobs=jobs, deliveries=ValkeyWebhookStore(client, ttl_seconds=600),
                         secrets=ValkeyWebhookSecrets(client),
                         sender=PinnedHttpSender(0.5, allow_private=True),
                         schedule=RetrySchedule((30,), 9), claim_seconds=20)
    try:
        with pytest.raises(RetryDelivery) as retry:
            deliver(job.job_id, 1, ports)
        assert retry.value.seconds == 30
        delivery = ports.deliveries.claim(job.job_id, "next", 20).delivery
        assert delivery.state is WebhookState.RETRYING and delivery.attempts == 1
        assert delivery.last_error == "no answer from 127.0.0.1 within 1 s"
    finally:
        receiver.close()


def test_a_finished_job_whose_result_expired_before_its_post_is_skipped(valkey_url: str) -> None:
    """The job's record is read, then its result is gone (expired, deleted): nothing is POSTed,
    and the message is done with (SKIPPED), not failed with an unexpected error."""
    client = connect(valkey_url, timeout_seconds=5)
    jobs = ValkeyJobStore(client, ttl_seconds=600)
    tenant = f"t{time.monotonic_ns()}"
    ValkeyWebhookSecrets(client).create(tenant)
    with WebhookReceiver() as receiver:
        job = new_job("chat", {"query": "q", "callback_url": f"{receiver.url}/hook"}, 600, owner=tenant)
        jobs.create(job)
        jobs.finish(job.job_id, jobs.claim(job.job_id, 60).attempt, {"answer": "a", "sources": []})
        client.hdel(f"ragcore:job:{job.job_id}", RESULT_FIELD)
        ports = WebhookPorts(jobs=jobs, deliveries=ValkeyWebhookStore(client, ttl_seconds=600),
                             secrets=ValkeyWebhookSecrets(client), sender=PinnedHttpSender(0.5, allow_private=True),
                             schedule=RetrySchedule((30,), 9), claim_seconds=20)
        assert deliver(job.job_id, 1, ports) is DeliveryOutcome.SKIPPED
        assert receiver.deliveries == []

"""What the API takes as an Idempotency-Key and what makes two requests the same one
(``rag_api.idempotency``); the behaviour over the real stack is tests/integration/test_idempotency.py."""

from __future__ import annotations

import pytest

from rag_api.idempotency import InvalidKey, fingerprint, parse_key, record_key


@pytest.mark.parametrize(("sent", "key"), [
    ("8e03978e-40d5-43e8-bc93-6894a57f9324", "8e03978e-40d5-43e8-bc93-6894a57f9324"),
    ('"8e03978e-40d5-43e8-bc93-6894a57f9324"', "8e03978e-40d5-43e8-bc93-6894a57f9324"),  # the draft's form
    ('"a \\"quoted\\" key, with \\\\"', 'a "quoted" key, with \\'),
    ("  padded  ", "padded"),
    ("x" * 255, "x" * 255),
])
def test_a_key_is_read_quoted_or_bare(sent: str, key: str) -> None:
    assert parse_key([sent]) == key


@pytest.mark.parametrize("sent", [
    [], ["a", "b"], [""], ['""'], ["x" * 256], ["caf\u00e9"], ["tab\there"],
    ["a, b"],  # two fields as a proxy joins them
    ['"open'], ['"a"b"'], ['"bad\\escape"'],
])
def test_anything_else_is_refused(sent: list[str]) -> None:
    with pytest.raises(InvalidKey):
        parse_key(sent)


def test_the_fingerprint_is_the_request_not_its_multipart_boundary() -> None:
    def form(boundary: str, text: str = "hello", quoted: bool = False) -> tuple[str, bytes]:
        body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.md\"\r\n\r\n"
                f"{text}\r\n--{boundary}--\r\n").encode()
        declared = '"' + boundary + '"' if quoted else boundary
        return f"multipart/form-data; boundary={declared}", body

    same = {fingerprint("POST", "/documents", "", *form(b, quoted=q)) for b in ("abc123", "zzz999") for q in (0, 1)}
    assert len(same) == 1
    assert fingerprint("POST", "/documents", "", *form("abc123", "other")) not in same
    base = fingerprint("POST", "/chat", "", "application/json", b'{"query": "q"}')
    assert base == fingerprint("POST", "/chat", "", "Application/JSON ", b'{"query": "q"}')
    assert base != fingerprint("POST", "/chat", "", "application/json", b'{"query": "r"}')
    assert base != fingerprint("POST", "/chat", "x=1", "application/json", b'{"query": "q"}')
    assert base != fingerprint("POST", "/chat/batch", "", "application/json", b'{"query": "q"}')


def test_a_record_is_per_tenant_method_path_and_key() -> None:
    one = record_key("alice", "POST", "/chat", "k")
    assert len(one) == 64 and one == record_key("alice", "POST", "/chat", "k")
    assert len({one, record_key("bob", "POST", "/chat", "k"), record_key(None, "POST", "/chat", "k"),
                record_key("alice", "POST", "/documents", "k"), record_key("alice", "POST", "/chat", "k2")}) == 5

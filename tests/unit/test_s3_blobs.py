"""The presigned upload form: what its signed policy makes S3 enforce. LocalStack does not
check signatures, so the bound is proved here on the policy itself (and by the LocalStack tests
in tests/integration/test_uploads.py on what LocalStack does enforce)."""

from __future__ import annotations

import base64
import json
import time
from datetime import datetime, timezone

import boto3
import pytest
from botocore.config import Config
from botocore.stub import Stubber

from ragcore.adapters.s3_blobs import S3BlobStore
from ragcore.domain.errors import InvalidDocumentError

MAX_BYTES = 50 * 1024 * 1024


def _client():  # type: ignore[no-untyped-def]
    return boto3.client("s3", region_name="eu-west-1", aws_access_key_id="AKIDEXAMPLE",
                        aws_secret_access_key="secret", config=Config(signature_version="s3v4"))


def test_the_upload_form_is_signed_for_one_key_one_type_and_at_most_the_limit() -> None:
    form = S3BlobStore(_client(), "docs").presign_post("uploads/job-1", "application/pdf", MAX_BYTES, 900)
    policy = json.loads(base64.b64decode(form.fields["policy"]))
    conditions = policy["conditions"]
    assert ["content-length-range", 1, MAX_BYTES] in conditions  # S3 refuses a larger or empty file
    assert {"key": "uploads/job-1"} in conditions and {"Content-Type": "application/pdf"} in conditions
    assert {"bucket": "docs"} in conditions
    expires = datetime.strptime(policy["expiration"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    assert 0 < expires.timestamp() - time.time() <= 900
    assert form.fields["x-amz-algorithm"] == "AWS4-HMAC-SHA256" and form.fields["x-amz-signature"]
    assert form.fields["key"] == "uploads/job-1" and form.fields["Content-Type"] == "application/pdf"


def test_a_pinned_read_asks_s3_for_that_etag_only() -> None:
    client = _client()
    with Stubber(client) as stub:
        stub.add_response("get_object", {"Body": _Body(b"x")},
                          {"Bucket": "docs", "Key": "uploads/job-1", "IfMatch": '"abc"'})
        assert S3BlobStore(client, "docs").get("uploads/job-1", '"abc"') == b"x"


def test_complete_copies_the_upload_only_if_it_is_still_the_checked_one() -> None:
    client = _client()
    with Stubber(client) as stub:
        stub.add_response("copy_object", {"CopyObjectResult": {"ETag": '"abc"'}}, {
            "Bucket": "docs", "Key": "completed/job-1",
            "CopySource": {"Bucket": "docs", "Key": "uploads/job-1"},
            "CopySourceIfMatch": '"abc"', "MetadataDirective": "COPY",
        })
        stub.add_client_error("copy_object", "PreconditionFailed", http_status_code=412)
        store = S3BlobStore(client, "docs")
        assert store.copy("uploads/job-1", "completed/job-1", '"abc"') == '"abc"'
        with pytest.raises(InvalidDocumentError, match="changed while it was being completed"):
            store.copy("uploads/job-1", "completed/job-1", '"abc"')


class _Body:
    def __init__(self, data: bytes) -> None:
        self._data = data

    def read(self) -> bytes:
        return self._data

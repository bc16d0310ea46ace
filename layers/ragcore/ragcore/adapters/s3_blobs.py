"""Uploaded files in S3 (LocalStack's S3 offline): the hand-off from the API to the worker."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator

from botocore.exceptions import BotoCoreError, ClientError

from ragcore.domain.errors import DependencyUnavailableError, InvalidDocumentError


@contextmanager
def _s3_errors(key: str) -> Iterator[None]:
    try:
        yield
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code in ("NoSuchKey", "404"):
            raise InvalidDocumentError(f"the uploaded file {key!r} is missing") from exc
        raise DependencyUnavailableError("s3", code or type(exc).__name__) from exc
    except BotoCoreError as exc:
        raise DependencyUnavailableError("s3", type(exc).__name__) from exc


class S3BlobStore:
    """Implements ``ports.BlobStore``."""

    def __init__(self, client: Any, bucket: str) -> None:
        self._client = client
        self._bucket = bucket

    def put(self, key: str, data: bytes, content_type: str) -> None:
        with _s3_errors(key):
            self._client.put_object(Bucket=self._bucket, Key=key, Body=data, ContentType=content_type)

    def get(self, key: str) -> bytes:
        with _s3_errors(key):
            return self._client.get_object(Bucket=self._bucket, Key=key)["Body"].read()

    def size(self, key: str) -> int | None:
        try:
            with _s3_errors(key):
                return int(self._client.head_object(Bucket=self._bucket, Key=key)["ContentLength"])
        except InvalidDocumentError:
            return None

    def presign_put(self, key: str, content_type: str, expires_seconds: int) -> str:
        # Content-Type is signed: the client must send the same header with the PUT.
        return self._client.generate_presigned_url(
            "put_object",
            Params={"Bucket": self._bucket, "Key": key, "ContentType": content_type},
            ExpiresIn=expires_seconds,
        )

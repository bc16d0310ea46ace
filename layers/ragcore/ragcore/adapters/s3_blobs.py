"""Uploaded files in S3 (LocalStack's S3 offline): the hand-off from the API to the worker."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator

from botocore.exceptions import BotoCoreError, ClientError

from ragcore.domain.errors import DependencyUnavailableError, InvalidDocumentError
from ragcore.ports import BlobHead, PresignedPost


@contextmanager
def _s3_errors(key: str) -> Iterator[None]:
    try:
        yield
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code in ("NoSuchKey", "404"):
            raise InvalidDocumentError(f"the uploaded file {key!r} is missing") from exc
        if code in ("PreconditionFailed", "412"):  # a read pinned to an ETag: see ``get``
            raise InvalidDocumentError(
                f"the uploaded file {key!r} was replaced after its upload was completed; upload it again"
            ) from exc
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

    def get(self, key: str, etag: str | None = None) -> bytes:
        """``etag`` (If-Match): the content ``complete`` checked, never a later write of the key."""
        pinned = {"IfMatch": etag} if etag else {}
        with _s3_errors(key):
            return self._client.get_object(Bucket=self._bucket, Key=key, **pinned)["Body"].read()

    def copy(self, source: str, target: str, etag: str) -> str:
        """A server-side CopyObject of ``source`` as it was when its ETag was ``etag``
        (CopySourceIfMatch; anything else raises ``InvalidDocumentError``); the copy's ETag."""
        try:
            with _s3_errors(source):
                answer = self._client.copy_object(
                    Bucket=self._bucket, Key=target, CopySource={"Bucket": self._bucket, "Key": source},
                    CopySourceIfMatch=etag, MetadataDirective="COPY",
                )
        except InvalidDocumentError as exc:
            if "replaced" not in str(exc):
                raise
            raise InvalidDocumentError(
                f"the uploaded file {source!r} changed while it was being completed; complete it again"
            ) from exc
        return str(answer["CopyObjectResult"]["ETag"])

    def delete(self, key: str) -> None:
        with _s3_errors(key):
            self._client.delete_object(Bucket=self._bucket, Key=key)

    def head(self, key: str) -> BlobHead | None:
        try:
            with _s3_errors(key):
                answer = self._client.head_object(Bucket=self._bucket, Key=key)
        except InvalidDocumentError:
            return None
        return BlobHead(int(answer["ContentLength"]), answer["ETag"])

    def presign_post(self, key: str, content_type: str, max_bytes: int, expires_seconds: int) -> PresignedPost:
        """A presigned POST, not a PUT: its policy's ``content-length-range`` makes S3 itself
        refuse a larger (or empty) file, which a presigned PUT cannot say."""
        conditions = [{"Content-Type": content_type}, ["content-length-range", 1, max_bytes]]
        with _s3_errors(key):
            post = self._client.generate_presigned_post(
                self._bucket, key, Fields={"Content-Type": content_type}, Conditions=conditions,
                ExpiresIn=expires_seconds,
            )
        return PresignedPost(post["url"], post["fields"])

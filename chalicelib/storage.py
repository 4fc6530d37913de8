"""S3: report templates, export files and the per-export status objects.

One bucket, three prefixes (settings): ``templates/<name>.sql``, ``exports/<date>/<id>/<file>``
and ``status/<id>.json``. Status lives in S3 because it is all the state the service needs; no
extra database to run. Status objects and the small state records are written through
``ledger.py`` (over ``records.py``); this module holds templates and export files.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.errors import NotFoundError, StorageError, TemplateError

if TYPE_CHECKING:
    from boto3.s3.transfer import TransferConfig


def upload_config() -> TransferConfig:
    """The transfer manager uploads parts in threads, each holding one part in memory. At 1-2 GB a
    Lambda has one or two vCPUs and up to ~100 MB/s to S3 per connection: four 16 MB parts in flight
    fill the pipe while adding at most ~64 MB to the flat memory of the export, and a 1 GB file stays
    far below S3's 10,000-part limit. Smaller files go up in one PUT."""
    from boto3.s3.transfer import TransferConfig

    return TransferConfig(multipart_threshold=16 * 1024 * 1024, multipart_chunksize=16 * 1024 * 1024, max_concurrency=4, use_threads=True)


_HASH_CHUNK = 1024 * 1024
_NOT_FOUND_CODES = {"NoSuchKey", "404", "NotFound"}


@dataclass(frozen=True)
class TemplateObject:
    name: str
    source: str
    etag: str


@dataclass(frozen=True)
class StoredFile:
    key: str
    size_bytes: int
    etag: str
    sha256: str = ""  # hex digest of the file as written, also kept as object metadata


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


class ExportStorage:
    def __init__(
        self,
        s3_client: Any,
        bucket: str,
        *,
        templates_prefix: str,
        exports_prefix: str,
        status_prefix: str,
        state_prefix: str = "state/",
        upload_config: TransferConfig | None = None,
    ) -> None:
        self._s3 = s3_client
        self._upload_config = upload_config
        self.bucket = bucket
        self.templates_prefix = templates_prefix
        self.exports_prefix = exports_prefix
        self.status_prefix = status_prefix
        self.state_prefix = state_prefix

    # templates -----------------------------------------------------------------------------
    def read_template(self, name: str) -> TemplateObject:
        key = f"{self.templates_prefix}{name}.sql"
        try:
            response = self._s3.get_object(Bucket=self.bucket, Key=key)
            body = response["Body"].read()
        except ClientError as exc:
            if _error_code(exc) in _NOT_FOUND_CODES:
                raise NotFoundError(f"report {name!r} does not exist", field="report", code="unknown_report") from None
            raise StorageError(f"could not read template {name!r} ({_error_code(exc)})") from None
        except BotoCoreError as exc:
            raise StorageError(f"could not read template {name!r} ({type(exc).__name__})") from None
        try:
            source = body.decode("utf-8")
        except UnicodeDecodeError:
            # An author's mistake, not a storage hiccup: retrying cannot make it UTF-8.
            raise TemplateError("template is not UTF-8 text", source=f"{name}.sql", line=1) from None
        return TemplateObject(name=name, source=source, etag=str(response.get("ETag", "")).strip('"'))

    def list_template_names(self) -> list[str]:
        names = []
        for item in self._list(self.templates_prefix):
            key = str(item["Key"])[len(self.templates_prefix) :]
            if key.endswith(".sql") and "/" not in key:
                names.append(key[: -len(".sql")])
        return sorted(names)

    def put_template(self, name: str, source: str) -> None:
        self._put_bytes(f"{self.templates_prefix}{name}.sql", source.encode("utf-8"), "text/plain; charset=utf-8")

    # export files --------------------------------------------------------------------------
    def upload_export(self, path: str, key: str, *, file_name: str, content_type: str) -> StoredFile:
        """Upload through the transfer manager (multipart past the threshold) and check the size."""
        digest = file_sha256(path)
        extra = {
            "ContentType": content_type,
            "ContentDisposition": content_disposition(file_name),
            "ServerSideEncryption": "AES256",
            "Metadata": {"sha256": digest},
            # S3 verifies every part against its own checksum before it assembles the object.
            "ChecksumAlgorithm": "SHA256",
        }
        # The transfer manager (boto3's, imported here: only the worker and the CLI upload) is what
        # boto3's injected ``client.upload_file`` runs (boto3/s3/inject.py); the client is botocore's.
        from boto3.exceptions import S3UploadFailedError
        from boto3.s3.transfer import S3Transfer

        try:
            with S3Transfer(self._s3, self._upload_config or upload_config()) as transfer:
                transfer.upload_file(path, self.bucket, key, extra_args=extra)
            head = self._s3.head_object(Bucket=self.bucket, Key=key)
        except (ClientError, BotoCoreError, S3UploadFailedError) as exc:
            raise StorageError(f"upload of the export file failed ({_describe(exc)})") from None
        size = int(head["ContentLength"])
        if size != os.path.getsize(path):
            raise StorageError(f"the stored export has {size:,} bytes, the file {os.path.getsize(path):,}")
        return StoredFile(key=key, size_bytes=size, etag=str(head.get("ETag", "")).strip('"'), sha256=digest)

    def download_export(self, key: str, path: str) -> None:
        try:
            from boto3.s3.transfer import S3Transfer

            with S3Transfer(self._s3) as transfer:
                transfer.download_file(self.bucket, key, path)
        except (ClientError, BotoCoreError) as exc:
            raise StorageError(f"download of the export file failed ({_describe(exc)})") from None

    def export_exists(self, key: str) -> bool:
        try:
            self._s3.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if _error_code(exc) in _NOT_FOUND_CODES:
                return False
            raise StorageError(f"could not check the export file ({_error_code(exc)})") from None
        return True

    def presigned_url(self, key: str, expires_in: int) -> str:
        return str(self._s3.generate_presigned_url("get_object", Params={"Bucket": self.bucket, "Key": key}, ExpiresIn=expires_in))

    # helpers -------------------------------------------------------------------------------
    def _put_bytes(self, key: str, body: bytes, content_type: str) -> None:
        try:
            self._s3.put_object(Bucket=self.bucket, Key=key, Body=body, ContentType=content_type, ServerSideEncryption="AES256")
        except (ClientError, BotoCoreError) as exc:
            raise StorageError(f"could not write {key.rsplit('/', 1)[-1]} ({_describe(exc)})") from None

    def _list(self, prefix: str) -> list[dict[str, Any]]:
        try:
            paginator = self._s3.get_paginator("list_objects_v2")
            return [item for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix) for item in page.get("Contents", [])]
        except (ClientError, BotoCoreError) as exc:
            raise StorageError(f"could not list {prefix!r} ({_describe(exc)})") from None


def _describe(exc: Exception) -> str:
    from boto3.exceptions import S3UploadFailedError

    if isinstance(exc, ClientError):
        return _error_code(exc) or "error"
    if isinstance(exc, S3UploadFailedError) and isinstance(exc.__context__, ClientError):
        return _error_code(exc.__context__) or "error"
    return type(exc).__name__


def file_sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        while chunk := file.read(_HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def content_disposition(file_name: str) -> str:
    """An attachment header that keeps non-ASCII (e.g. Korean) file names (RFC 6266 / 5987)."""
    ascii_name = file_name.encode("ascii", "replace").decode("ascii").replace("?", "_").replace('"', "'")
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(file_name, safe='')}"

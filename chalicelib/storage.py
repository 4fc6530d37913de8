"""S3 objects: report templates and export files, each in its own small store, and the one
translation of S3 errors into the service's (``s3_call``), which records.py uses too.

One bucket, three prefixes (settings): ``templates/<name>.sql`` (``TemplateStore``),
``exports/<date>/<id>/<file>`` (``ExportFiles``) and the status and state records, which are
written through ``ledger.py`` over ``records.py``. S3 is all the state the service needs; no extra
database to run. ``ExportStorage`` is the bucket: the two stores and the record prefixes.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.errors import NotFoundError, StorageError, TemplateError

if TYPE_CHECKING:
    from boto3.s3.transfer import TransferConfig

T = TypeVar("T")


def upload_config() -> TransferConfig:
    """The transfer manager uploads parts in threads, each holding one part in memory. At 1-2 GB a
    Lambda has one or two vCPUs and up to ~100 MB/s to S3 per connection: four 16 MB parts in flight
    fill the pipe while adding at most ~64 MB to the flat memory of the export, and a 1 GB file stays
    far below S3's 10,000-part limit. Smaller files go up in one PUT."""
    from boto3.s3.transfer import TransferConfig

    return TransferConfig(multipart_threshold=16 * 1024 * 1024, multipart_chunksize=16 * 1024 * 1024, max_concurrency=4, use_threads=True)


_HASH_CHUNK = 1024 * 1024
NOT_FOUND_CODES = frozenset({"NoSuchKey", "404", "NotFound"})


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


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def describe(exc: BaseException) -> str:
    """What went wrong, for a message: S3's error code, or the exception's class (never a URL or key)."""
    if isinstance(exc, ClientError):
        return error_code(exc) or "error"
    if isinstance(exc.__context__, ClientError):  # boto3's S3UploadFailedError wraps the client's error
        return error_code(exc.__context__) or "error"
    return type(exc).__name__


def _upload_failed(exc: BaseException) -> bool:
    from boto3.exceptions import S3UploadFailedError  # on a failure only: boto3 is a cold-start cost

    return isinstance(exc, S3UploadFailedError)


def s3_call(action: str, call: Callable[[], T], *, expected: Collection[str] = (), instead: Callable[[], T] | None = None) -> T:
    """Run one S3 call; every failure becomes ``StorageError("<action> (<code>)")``, the one
    translation of S3 errors in the service. An error whose code is in ``expected`` (a missing key,
    a lost conditional write) is not a failure: ``instead()`` answers (or raises) for it."""
    try:
        return call()
    except (ClientError, BotoCoreError) as exc:
        if instead is not None and isinstance(exc, ClientError) and error_code(exc) in expected:
            return instead()
        raise StorageError(f"{action} ({describe(exc)})") from None
    except Exception as exc:
        if not _upload_failed(exc):
            raise
        raise StorageError(f"{action} ({describe(exc)})") from None


class TemplateStore:
    """Report templates: ``<prefix><name>.sql``, read by the service, written by ``reports publish``."""

    def __init__(self, s3_client: Any, bucket: str, prefix: str) -> None:
        self._s3 = s3_client
        self.bucket = bucket
        self.prefix = prefix

    def read(self, name: str) -> TemplateObject:
        def missing() -> tuple[bytes, str]:
            raise NotFoundError(f"report {name!r} does not exist", field="report", code="unknown_report")

        def get() -> tuple[bytes, str]:
            response = self._s3.get_object(Bucket=self.bucket, Key=f"{self.prefix}{name}.sql")
            return response["Body"].read(), str(response.get("ETag", "")).strip('"')

        body, etag = s3_call(f"could not read template {name!r}", get, expected=NOT_FOUND_CODES, instead=missing)
        try:
            source = body.decode("utf-8")
        except UnicodeDecodeError:
            # An author's mistake, not a storage hiccup: retrying cannot make it UTF-8.
            raise TemplateError("template is not UTF-8 text", source=f"{name}.sql", line=1) from None
        return TemplateObject(name=name, source=source, etag=etag)

    def names(self) -> list[str]:
        names = []
        for item in self._list():
            key = str(item["Key"])[len(self.prefix) :]
            if key.endswith(".sql") and "/" not in key:
                names.append(key[: -len(".sql")])
        return sorted(names)

    def put(self, name: str, source: str) -> None:
        key = f"{self.prefix}{name}.sql"
        s3_call(
            f"could not write {name}.sql",
            lambda: self._s3.put_object(
                Bucket=self.bucket, Key=key, Body=source.encode("utf-8"), ContentType="text/plain; charset=utf-8", ServerSideEncryption="AES256"
            ),
        )

    def _list(self) -> list[dict[str, Any]]:
        def listing() -> list[dict[str, Any]]:
            paginator = self._s3.get_paginator("list_objects_v2")
            return [item for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix) for item in page.get("Contents", [])]

        return s3_call(f"could not list {self.prefix!r}", listing)


class ExportFiles:
    """Export files: ``<prefix><date>/<id>/<file>``, uploaded by the worker, linked and checked by the API."""

    def __init__(self, s3_client: Any, bucket: str, prefix: str, upload_config: TransferConfig | None = None) -> None:
        self._s3 = s3_client
        self._upload_config = upload_config
        self.bucket = bucket
        self.prefix = prefix

    def upload(self, path: str, key: str, *, file_name: str, content_type: str) -> StoredFile:
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

        def upload_and_head() -> dict[str, Any]:
            # The transfer manager (boto3's, imported here: only the worker and the CLI upload) is what
            # boto3's injected ``client.upload_file`` runs (boto3/s3/inject.py); the client is botocore's.
            from boto3.s3.transfer import S3Transfer

            with S3Transfer(self._s3, self._upload_config or upload_config()) as transfer:
                transfer.upload_file(path, self.bucket, key, extra_args=extra)
            head: dict[str, Any] = self._s3.head_object(Bucket=self.bucket, Key=key)
            return head

        head = s3_call("upload of the export file failed", upload_and_head)
        size = int(head["ContentLength"])
        if size != os.path.getsize(path):
            raise StorageError(f"the stored export has {size:,} bytes, the file {os.path.getsize(path):,}")
        return StoredFile(key=key, size_bytes=size, etag=str(head.get("ETag", "")).strip('"'), sha256=digest)

    def download(self, key: str, path: str) -> None:
        def fetch() -> None:
            from boto3.s3.transfer import S3Transfer

            with S3Transfer(self._s3) as transfer:
                transfer.download_file(self.bucket, key, path)

        s3_call("download of the export file failed", fetch)

    def exists(self, key: str) -> bool:
        def head() -> bool:
            self._s3.head_object(Bucket=self.bucket, Key=key)
            return True

        return s3_call("could not check the export file", head, expected=NOT_FOUND_CODES, instead=lambda: False)

    def presigned_url(self, key: str, expires_in: int) -> str:
        return str(self._s3.generate_presigned_url("get_object", Params={"Bucket": self.bucket, "Key": key}, ExpiresIn=expires_in))


class ExportStorage:
    """The service's bucket: its two small stores (templates, export files) and the record prefixes
    the ledger writes under (chalicelib/records.py)."""

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
        self.bucket = bucket
        self.templates = TemplateStore(s3_client, bucket, templates_prefix)
        self.files = ExportFiles(s3_client, bucket, exports_prefix, upload_config)
        self.status_prefix = status_prefix
        self.state_prefix = state_prefix

    @property
    def templates_prefix(self) -> str:
        return self.templates.prefix


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

"""Small JSON records with conditional writes: in S3 (what runs) and in memory (its twin for tests).

Why S3: it is already the service's only state, and its conditional writes (``If-None-Match: *``
to create, ``If-Match: <etag>`` to replace or delete) are atomic, which is all single flight and
checked transitions need. The in-memory store answers the same six questions with the same
semantics, as Chalice's ``InMemoryTodoDB`` stands beside ``DynamoDBTodo``, so the lifecycle is
tested against both (the property test runs thousands of interleavings against the twin).
"""

from __future__ import annotations

import contextlib
import functools
import json
import threading
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

from chalicelib.storage import NOT_FOUND_CODES, s3_call

_LOST_RACE_CODES = frozenset({"PreconditionFailed", "ConditionalRequestConflict", "412", "409"})
# S3 checks a condition and writes in one step; moto (moto/s3/responses.py: put_object and
# delete_object read the key, then write) checks, then writes, so two threads of one process could
# both win. A store whose endpoint is not AWS's takes this one lock, shared by every store of the
# process, around each conditional call (claims, deliveries, transitions).
_LOCAL_CONDITIONS_LOCK = threading.Lock()


@dataclass(frozen=True)
class Versioned:
    body: dict[str, Any]
    version: str  # S3's ETag; the in-memory store's counter


class RecordStore(Protocol):
    def read(self, name: str) -> Versioned | None: ...

    def create(self, name: str, body: dict[str, Any]) -> str | None:
        """Write only if absent: the new version, or None if the record exists."""
        ...

    def replace(self, name: str, body: dict[str, Any], version: str) -> str | None:
        """Write only if unchanged since ``version``: the new version, or None."""
        ...

    def put(self, name: str, body: dict[str, Any]) -> str: ...

    def delete(self, name: str, version: str | None = None) -> bool: ...

    def names(self, prefix: str, limit: int | None = None) -> list[str]:
        """Names under ``prefix`` in ascending order, at most ``limit`` of them (None: all)."""
        ...


def json_bytes(body: dict[str, Any]) -> bytes:
    return json.dumps(body, ensure_ascii=False, sort_keys=True).encode("utf-8")


class S3RecordStore:
    def __init__(self, s3_client: Any, bucket: str, prefix: str) -> None:
        self._s3 = s3_client
        self._bucket = bucket
        self._prefix = prefix

    def read(self, name: str) -> Versioned | None:
        def get() -> Versioned | None:
            response = self._s3.get_object(Bucket=self._bucket, Key=self._prefix + name)
            return Versioned(body=json.loads(response["Body"].read()), version=str(response.get("ETag", "")))

        return s3_call(f"could not read {self._kind(name)}", get, expected=NOT_FOUND_CODES, instead=lambda: None)

    def create(self, name: str, body: dict[str, Any]) -> str | None:
        return self._put(name, body, IfNoneMatch="*")

    def replace(self, name: str, body: dict[str, Any], version: str) -> str | None:
        return self._put(name, body, IfMatch=version)

    def put(self, name: str, body: dict[str, Any]) -> str:
        version = self._put(name, body)
        assert version is not None  # an unconditional put cannot lose a race
        return version

    def delete(self, name: str, version: str | None = None) -> bool:
        conditions = {"IfMatch": version} if version else {}

        def delete() -> bool:
            with self._serialised(bool(conditions)):
                self._s3.delete_object(Bucket=self._bucket, Key=self._prefix + name, **conditions)
            return True

        return s3_call(f"could not delete {self._kind(name)}", delete, expected=NOT_FOUND_CODES | _LOST_RACE_CODES, instead=lambda: False)

    def names(self, prefix: str, limit: int | None = None) -> list[str]:
        # ListObjectsV2 returns keys in ascending order, so with MaxKeys the newest-first history
        # index (inverted timestamps) is read one page of ``limit`` keys at a time, never whole.
        def listing() -> list[str]:
            found: list[str] = []
            token: str | None = None
            while limit is None or len(found) < limit:
                arguments: dict[str, Any] = {"Bucket": self._bucket, "Prefix": self._prefix + prefix}
                if limit is not None:
                    arguments["MaxKeys"] = min(1000, limit - len(found))
                if token:
                    arguments["ContinuationToken"] = token
                page = self._s3.list_objects_v2(**arguments)
                found.extend(str(item["Key"])[len(self._prefix) :] for item in page.get("Contents", []))
                token = page.get("NextContinuationToken")
                if not page.get("IsTruncated") or not token:
                    break
            return found

        return s3_call(f"could not list {self._prefix + prefix!r}", listing)

    def _put(self, name: str, body: dict[str, Any], **condition: str) -> str | None:
        def put() -> str | None:
            with self._serialised(bool(condition)):
                response = self._s3.put_object(
                    Bucket=self._bucket,
                    Key=self._prefix + name,
                    Body=json_bytes(body),
                    ContentType="application/json",
                    ServerSideEncryption="AES256",
                    **condition,
                )
            return str(response.get("ETag", ""))

        # Only a conditional write can lose a race (or find its record deleted under it).
        lost = _LOST_RACE_CODES | NOT_FOUND_CODES if condition else frozenset[str]()
        return s3_call(f"could not write {self._kind(name)}", put, expected=lost, instead=lambda: None)

    def _serialised(self, conditional: bool) -> contextlib.AbstractContextManager[object]:
        return _LOCAL_CONDITIONS_LOCK if conditional and not self._on_aws_endpoint else contextlib.nullcontext()

    @functools.cached_property
    def _on_aws_endpoint(self) -> bool:
        # Asked at the first conditional write, when the client exists anyway (aws.py makes it lazily).
        host = urlsplit(str(self._s3.meta.endpoint_url)).hostname or ""
        return host.endswith(".amazonaws.com")

    def _kind(self, name: str) -> str:
        """What a record is, for an error message: its folder, never its full key."""
        return f"{self._prefix}{name.split('/', 1)[0]}" if "/" in name else f"{self._prefix.rstrip('/')} record"


class InMemoryRecordStore:
    """The same conditional semantics as S3, in a dict under a lock (the lifecycle's test twin)."""

    def __init__(self) -> None:
        self._records: dict[str, tuple[bytes, str]] = {}
        self._lock = threading.Lock()
        self._counter = 0

    def _next(self) -> str:
        self._counter += 1
        return f'"{self._counter}"'

    def read(self, name: str) -> Versioned | None:
        with self._lock:
            stored = self._records.get(name)
        return None if stored is None else Versioned(body=json.loads(stored[0]), version=stored[1])

    def create(self, name: str, body: dict[str, Any]) -> str | None:
        data = json_bytes(body)  # encodes first, as S3's client would: a lone surrogate fails here
        with self._lock:
            if name in self._records:
                return None
            version = self._next()
            self._records[name] = (data, version)
            return version

    def replace(self, name: str, body: dict[str, Any], version: str) -> str | None:
        data = json_bytes(body)
        with self._lock:
            stored = self._records.get(name)
            if stored is None or stored[1] != version:
                return None
            new_version = self._next()
            self._records[name] = (data, new_version)
            return new_version

    def put(self, name: str, body: dict[str, Any]) -> str:
        data = json_bytes(body)
        with self._lock:
            version = self._next()
            self._records[name] = (data, version)
            return version

    def delete(self, name: str, version: str | None = None) -> bool:
        with self._lock:
            stored = self._records.get(name)
            if stored is None:
                return version is None  # as S3: deleting what is not there succeeds, unless a version was asked for
            if version is not None and stored[1] != version:
                return False
            del self._records[name]
            return True

    def names(self, prefix: str, limit: int | None = None) -> list[str]:
        with self._lock:
            found = sorted(name for name in self._records if name.startswith(prefix))
        return found if limit is None else found[:limit]

"""Export identity, single-flight claims, the result cache and idempotency records, all in S3.

Why S3: it is already the service's only state, and its conditional writes (``If-None-Match: *``
to create, ``If-Match: <etag>`` to replace or delete) are atomic, which is all single-flight
needs. Records live under the state prefix: ``claims/<key>.json`` (an export in flight, with a
heartbeat), ``latest/<key>.json`` (the last successful export, for the cache),
``idempotency/<hash>.json`` (the first answer to a client's key) and ``index/<report>/<id>``
(history by report).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from chalicelib.errors import StorageError
from chalicelib.storage import ExportStorage

Clock = Callable[[], dt.datetime]


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def parse_iso(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def export_key(report: str, template_source: str, params: Mapping[str, Any], export_format: str) -> str:
    """Same report, same template content, same normalised parameters, same format: same key."""
    identity = {
        "report": report,
        "template": hashlib.sha256(template_source.encode("utf-8")).hexdigest(),
        "params": dict(params),
        "format": export_format,
    }
    return hashlib.sha256(json.dumps(identity, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


@dataclass
class Claim:
    key: str
    export_id: str
    etag: str
    taken_over_from: str | None = None


@dataclass(frozen=True)
class IdempotencyRecord:
    state: str  # "pending" while the first request is being answered, then "done"
    status_code: int
    body: dict[str, Any]
    created_at: dt.datetime


class Coordinator:
    def __init__(self, storage: ExportStorage, *, stale_after_seconds: int, idempotency_ttl_seconds: int, clock: Clock = utc_now) -> None:
        self._storage = storage
        self._stale_after = dt.timedelta(seconds=stale_after_seconds)
        self._idempotency_ttl = dt.timedelta(seconds=idempotency_ttl_seconds)
        self._clock = clock

    # single flight ----------------------------------------------------------------------------
    def claim(self, key: str, export_id: str) -> Claim | str:
        """Own ``key`` for ``export_id``; or return the export id of the live worker holding it."""
        name = f"claims/{key}.json"
        now = iso(self._clock())
        body = {"export_id": export_id, "claimed_at": now, "heartbeat_at": now}
        for _ in range(5):
            etag = self._storage.create_record(name, body)
            if etag:
                return Claim(key=key, export_id=export_id, etag=etag)
            current = self._storage.read_record(name)
            if current is None:
                continue  # released between our two calls: try to create it again
            if not self._is_stale(current.body):
                return str(current.body["export_id"])
            etag = self._storage.replace_record(name, body, current.etag)
            if etag:
                return Claim(key=key, export_id=export_id, etag=etag, taken_over_from=str(current.body.get("export_id")))
        raise StorageError("could not claim the export: too much contention")

    def _is_stale(self, body: Mapping[str, Any]) -> bool:
        try:
            heartbeat = parse_iso(str(body["heartbeat_at"]))
        except (KeyError, ValueError):
            return True
        return self._clock() - heartbeat > self._stale_after

    def heartbeat(self, key: str, export_id: str) -> bool:
        """Refresh our claim's heartbeat; False if the claim is gone or belongs to someone else."""
        name = f"claims/{key}.json"
        current = self._storage.read_record(name)
        if current is None or current.body.get("export_id") != export_id:
            return False
        body = {**current.body, "heartbeat_at": iso(self._clock())}
        return self._storage.replace_record(name, body, current.etag) is not None

    def release(self, key: str, export_id: str) -> None:
        name = f"claims/{key}.json"
        current = self._storage.read_record(name)
        if current is not None and current.body.get("export_id") == export_id:
            self._storage.delete_record(name, current.etag)

    # result cache -----------------------------------------------------------------------------
    def remember_success(self, key: str, export_id: str, finished_at: str) -> None:
        self._storage.write_record(f"latest/{key}.json", {"export_id": export_id, "finished_at": finished_at})

    def cached_export_id(self, key: str, ttl_seconds: int) -> str | None:
        if ttl_seconds <= 0:
            return None
        record = self._storage.read_record(f"latest/{key}.json")
        if record is None:
            return None
        finished = parse_iso(str(record.body["finished_at"]))
        if self._clock() - finished > dt.timedelta(seconds=ttl_seconds):
            return None
        return str(record.body["export_id"])

    # history ----------------------------------------------------------------------------------
    def index(self, report: str, export_id: str) -> None:
        self._storage.write_record(f"index/{report}/{export_id}", {})

    def export_ids_for(self, report: str) -> list[str]:
        prefix = f"index/{report}/"
        return [name[len(prefix) :] for name in self._storage.list_record_names(prefix)]

    # idempotency ------------------------------------------------------------------------------
    @staticmethod
    def _idempotency_name(idempotency_key: str) -> str:
        return f"idempotency/{hashlib.sha256(idempotency_key.encode('utf-8')).hexdigest()}.json"

    def find_response(self, idempotency_key: str, *, wait_seconds: float = 10.0) -> IdempotencyRecord | None:
        """The first answer given for this key within the TTL (waiting briefly if it is pending)."""
        deadline = time.monotonic() + wait_seconds
        while True:
            record = self._read_idempotency(idempotency_key)
            if record is None or record.state == "done" or time.monotonic() > deadline:
                return record
            time.sleep(0.2)

    def _read_idempotency(self, idempotency_key: str) -> IdempotencyRecord | None:
        stored = self._storage.read_record(self._idempotency_name(idempotency_key))
        if stored is None:
            return None
        record = IdempotencyRecord(
            state=str(stored.body.get("state")),
            status_code=int(stored.body.get("status_code") or 0),
            body=dict(stored.body.get("body") or {}),
            created_at=parse_iso(str(stored.body["created_at"])),
        )
        age = self._clock() - record.created_at
        if age > self._idempotency_ttl or (record.state == "pending" and age > dt.timedelta(minutes=2)):
            self._storage.delete_record(self._idempotency_name(idempotency_key), stored.etag)
            return None
        return record

    def reserve(self, idempotency_key: str) -> bool:
        """Mark the key as being answered; False if another request got there first."""
        body = {"state": "pending", "created_at": iso(self._clock())}
        return self._storage.create_record(self._idempotency_name(idempotency_key), body) is not None

    def store_response(self, idempotency_key: str, status_code: int, response: Mapping[str, Any]) -> None:
        body = {"state": "done", "created_at": iso(self._clock()), "status_code": status_code, "body": dict(response)}
        self._storage.write_record(self._idempotency_name(idempotency_key), body)

    def forget(self, idempotency_key: str) -> None:
        self._storage.delete_record(self._idempotency_name(idempotency_key))


class Heartbeat:
    """Keeps a worker's claim fresh from a background thread while the export runs."""

    def __init__(self, coordinator: Coordinator, key: str, export_id: str, interval_seconds: float) -> None:
        self._coordinator = coordinator
        self._key = key
        self._export_id = export_id
        self._interval = interval_seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"heartbeat-{export_id}", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._coordinator.heartbeat(self._key, self._export_id)
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _beat(self) -> None:
        while not self._stop.wait(self._interval):
            # A missed beat is harmless: the claim only goes stale after many.
            with contextlib.suppress(StorageError):
                self._coordinator.heartbeat(self._key, self._export_id)

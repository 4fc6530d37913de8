"""The one module through which export records, claims, cache pointers, idempotency records and the
history index are written and read.

Layout: status records are ``<status prefix><export id>.json``; under the state prefix live
``claims/<key>.json`` (which export holds an identity: single flight), ``latest/<key>.json`` (the
last success, for the cache), ``idempotency/<hash>.json`` and the history index,
``templates/<sha256>.json`` (the template text exports were accepted with), and the history
index, ``history/all/<newest-first id>`` and ``history/report/<report>/<newest-first id>``, whose names
sort newest first so ``GET /exports`` reads one short page instead of every status ever written.
For the Slack app: ``slack/subscribers/<export id>/<user>.json`` (who joined an export from Slack
and gets its message too) and ``slack/delivered/<export id>/<user>.json`` (a conditional create
before each DM, so each user gets one).

Every state change is a conditional replace of the version that was read: when two processes race
(a worker finishing, a reader finding it dead), exactly one wins and the other learns it lost.
Each transition is logged here, once, by its name.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from chalicelib.errors import StorageError
from chalicelib.exports import lifecycle
from chalicelib.exports.lifecycle import ExportRecord, StaleWindows, iso_precise, parse_iso, utc_now
from chalicelib.observability import log_event
from chalicelib.records import RecordStore

Clock = Callable[[], dt.datetime]
logger = logging.getLogger(__name__)
_INVERT = str.maketrans("0123456789", "9876543210")


def newest_first(export_id: str) -> str:
    """An index name that sorts the newest export first: the id's time digits inverted, then the id."""
    stamp = export_id.replace("-", "")[:17]  # YYYYMMDDHHMMSS + milliseconds
    return f"{stamp.translate(_INVERT)}-{export_id}"


def template_digest(source: str) -> str:
    """The name a template's text is kept under (``keep_template``) and its record points at."""
    return hashlib.sha256(source.encode("utf-8")).hexdigest()


class RecordChangedError(Exception):
    """The record changed since it was read: another process moved it first."""


@dataclass(frozen=True)
class Handle:
    """A record as read, with the version a conditional write must match."""

    record: ExportRecord
    version: str


@dataclass(frozen=True)
class Won:
    claim_version: str
    taken_over_from: str | None = None


@dataclass(frozen=True)
class Joined:
    export_id: str
    state: str


@dataclass(frozen=True)
class Settled:
    """A record read with its liveness checked; ``lost`` if this read declared its worker dead."""

    handle: Handle
    lost: bool = False


@dataclass(frozen=True)
class LatestSuccess:
    export_id: str
    finished_at: dt.datetime


@dataclass(frozen=True)
class IdempotencyRecord:
    state: str  # "pending" while the first request is being answered, then "done"
    request_hash: str
    export_id: str | None
    status_code: int
    created_at: dt.datetime


class ExportLedger:
    def __init__(
        self,
        status: RecordStore,
        state: RecordStore,
        *,
        windows: StaleWindows,
        idempotency_ttl_seconds: int,
        clock: Clock = utc_now,
    ) -> None:
        self._status = status
        self._state = state
        self.windows = windows
        self._idempotency_ttl = dt.timedelta(seconds=idempotency_ttl_seconds)
        self.clock = clock
        # Told the id of every export a read declared lost, so someone sends its one Slack message.
        self.on_lost: Callable[[str], None] = lambda _export_id: None

    # status records ---------------------------------------------------------------------------
    def create(self, record: ExportRecord) -> Handle:
        version = self._status.create(f"{record.export_id}.json", record.to_json())
        if version is None:
            raise StorageError(f"export id {record.export_id} already exists")
        return Handle(record, version)

    def load(self, export_id: str) -> Handle | None:
        stored = self._status.read(f"{export_id}.json")
        return None if stored is None else Handle(ExportRecord.from_json(stored.body), stored.version)

    def commit(self, handle: Handle, record: ExportRecord, transition: str, **log_fields: Any) -> Handle:
        """Write ``record`` over the version in ``handle``; RecordChangedError if another write came first."""
        version = self._status.replace(f"{record.export_id}.json", record.to_json(), handle.version)
        if version is None:
            raise RecordChangedError(f"{transition}: export {record.export_id} changed since it was read")
        if transition not in ("beat", "begin_attempt", "notification"):
            log_event(transition, f"export {record.state.value}", export_id=record.export_id, report=record.report, **log_fields)
        return Handle(record, version)

    def discard(self, handle: Handle) -> None:
        """Remove a record that never became an export (its request joined another one)."""
        try:
            self._status.delete(f"{handle.record.export_id}.json", handle.version)
        except StorageError:
            logger.warning("could not remove an unused status record", extra={"export_id": handle.record.export_id})

    def settle(self, export_id: str) -> Settled | None:
        """Read a record; one whose worker is silent past the stale window is failed ``worker_lost``
        here (once: the conditional write has one winner) and its claim released."""
        handle = self.load(export_id)
        if handle is None:
            return None
        now = self.clock()
        if not handle.record.is_stale(now, self.windows):
            return Settled(handle)
        silent = int((now - handle.record.last_sign_of_life()).total_seconds())
        message = f"the worker stopped without finishing (no sign of life for {silent} s); ask again for a new export"
        try:
            lost = self.commit(handle, lifecycle.lose(handle.record, now, message), "worker_lost", silent_seconds=silent)
        except RecordChangedError:
            return self.settle(export_id)  # someone else moved it first: read what they wrote
        self.release(lost.record.export_key, lost.record.export_id)
        self.on_lost(export_id)
        return Settled(lost, lost=True)

    # single flight ----------------------------------------------------------------------------
    def claim(self, key: str, export_id: str) -> Won | Joined:
        """Own ``key`` for ``export_id``; or join the live export holding it. A claim whose export is
        finished, dead or missing is taken over, never answered with "does not exist"."""
        name = f"claims/{key}.json"
        for _ in range(8):
            version = self._state.create(name, {"export_id": export_id, "claimed_at": iso_precise(self.clock())})
            if version:
                return Won(version)
            current = self._state.read(name)
            if current is None:
                continue  # released between our two calls: create it again
            holder = str(current.body.get("export_id", ""))
            settled = self.settle(holder) if holder and holder != export_id else None
            if settled is not None and not settled.handle.record.state.finished:
                return Joined(holder, settled.handle.record.state.value)
            body = {"export_id": export_id, "claimed_at": iso_precise(self.clock()), "taken_over_from": holder}
            version = self._state.replace(name, body, current.version)
            if version:
                log_event(
                    "claim_taken_over", "took over a claim whose export is finished, dead or missing", export_id=export_id, taken_over_from=holder
                )
                return Won(version, taken_over_from=holder)
        raise StorageError("could not claim the export: too much contention")

    def release(self, key: str, export_id: str) -> None:
        name = f"claims/{key}.json"
        current = self._state.read(name)
        if current is not None and current.body.get("export_id") == export_id:
            self._state.delete(name, current.version)

    def claims(self) -> list[str]:
        """The identities currently claimed (tests list them to prove none is left behind)."""
        return [name[len("claims/") : -len(".json")] for name in self._state.names("claims/")]

    def claim_holder(self, key: str) -> str | None:
        current = self._state.read(f"claims/{key}.json")
        return None if current is None else str(current.body.get("export_id"))

    # result cache -----------------------------------------------------------------------------
    def remember_success(self, record: ExportRecord) -> None:
        assert record.finished_at is not None
        self._state.put(f"latest/{record.export_key}.json", {"export_id": record.export_id, "finished_at": iso_precise(record.finished_at)})

    def latest_success(self, key: str) -> LatestSuccess | None:
        stored = self._state.read(f"latest/{key}.json")
        if stored is None:
            return None
        return LatestSuccess(str(stored.body["export_id"]), parse_iso(str(stored.body["finished_at"])))

    # template snapshots -----------------------------------------------------------------------
    def keep_template(self, source: str) -> str:
        """Keep the text an export was accepted with, by its hash (written once per version)."""
        digest = template_digest(source)
        self._state.create(f"templates/{digest}.json", {"source": source})
        return digest

    def kept_template(self, digest: str) -> str | None:
        stored = self._state.read(f"templates/{digest}.json")
        return None if stored is None else str(stored.body["source"])

    # history ----------------------------------------------------------------------------------
    def index(self, record: ExportRecord) -> None:
        name = newest_first(record.export_id)
        self._state.put(f"history/all/{name}", {})
        self._state.put(f"history/report/{record.report}/{name}", {})

    def newest(self, report: str | None, limit: int) -> list[str]:
        prefix = "history/all/" if report is None else f"history/report/{report}/"
        return [name[len(prefix) :].split("-", 1)[1] for name in self._state.names(prefix, limit)]

    # Slack deliveries -------------------------------------------------------------------------
    def subscribe(self, export_id: str, user_id: str) -> None:
        self._state.put(f"slack/subscribers/{export_id}/{user_id}.json", {})

    def subscribers(self, export_id: str) -> list[str]:
        prefix = f"slack/subscribers/{export_id}/"
        return [name[len(prefix) : -len(".json")] for name in self._state.names(prefix)]

    def claim_delivery(self, export_id: str, user_id: str) -> bool:
        """True for the one caller that may send ``user_id`` this export's message."""
        return self._state.create(f"slack/delivered/{export_id}/{user_id}.json", {}) is not None

    def was_delivered(self, export_id: str, user_id: str) -> bool:
        return self._state.read(f"slack/delivered/{export_id}/{user_id}.json") is not None

    # idempotency ------------------------------------------------------------------------------
    @staticmethod
    def _idempotency_name(idempotency_key: str) -> str:
        return f"idempotency/{hashlib.sha256(idempotency_key.encode('utf-8')).hexdigest()}.json"

    def find_idempotency(self, idempotency_key: str) -> IdempotencyRecord | None:
        stored = self._state.read(self._idempotency_name(idempotency_key))
        if stored is None:
            return None
        body = stored.body
        record = IdempotencyRecord(
            state=str(body.get("state")),
            request_hash=str(body.get("request_hash") or ""),
            export_id=body.get("export_id"),
            status_code=int(body.get("status_code") or 0),
            created_at=parse_iso(str(body["created_at"])),
        )
        age = self.clock() - record.created_at
        if age > self._idempotency_ttl or (record.state == "pending" and age > dt.timedelta(minutes=2)):
            self._state.delete(self._idempotency_name(idempotency_key), stored.version)
            return None
        return record

    def reserve_idempotency(self, idempotency_key: str, request_hash: str) -> bool:
        body = {"state": "pending", "request_hash": request_hash, "created_at": iso_precise(self.clock())}
        return self._state.create(self._idempotency_name(idempotency_key), body) is not None

    def complete_idempotency(self, idempotency_key: str, request_hash: str, export_id: str, status_code: int) -> None:
        body = {
            "state": "done",
            "request_hash": request_hash,
            "export_id": export_id,
            "status_code": status_code,
            "created_at": iso_precise(self.clock()),
        }
        self._state.put(self._idempotency_name(idempotency_key), body)

    def forget_idempotency(self, idempotency_key: str) -> None:
        self._state.delete(self._idempotency_name(idempotency_key))

"""The export record and its lifecycle: one typed record, four states, named transitions.

Modelled on the idempotency record of Powertools for AWS Lambda (a ``DataRecord`` with status
constants and an in-progress expiry): an export is ``queued`` when accepted, ``running`` while a
worker holds it (the worker refreshes ``heartbeat_at``), then ``succeeded`` or ``failed``. Any
unfinished export whose worker has gone silent longer than the stale window is ``failed`` with
``worker_lost``. Every change of state is one of the functions below, each checking the state it
starts from; ``ledger.py`` writes their results with a conditional put, so two processes can never
both move the same record. Pure logic, no I/O.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class ExportState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"

    @property
    def finished(self) -> bool:
        return self in (ExportState.SUCCEEDED, ExportState.FAILED)


class TransitionError(ValueError):
    """A transition was asked of a record in a state it cannot leave that way (a logic error)."""



def utc_now() -> dt.datetime:
    """The clock every record's times are read from (the ledger and the worker take it injectable)."""
    return dt.datetime.now(dt.UTC)


def iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def iso_precise(moment: dt.datetime) -> str:
    """With microseconds: for ordering two events in the same second (a cache entry against a request)."""
    return moment.astimezone(dt.UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def parse_iso(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def _time(value: Any) -> dt.datetime | None:
    return parse_iso(str(value)) if value else None


@dataclass(frozen=True)
class Outcome:
    """What a successful export produced (the file, its rows, its timings)."""

    row_count: int
    size_bytes: int
    s3_key: str
    file_name: str
    sheets: tuple[Mapping[str, Any], ...] = ()
    etag: str = ""
    sha256: str = ""
    truncated_cells: int = 0
    numbers_as_text: int = 0
    writer: str = ""  # the engine that wrote the file (chalicelib.files.formats.open_writer chooses)
    query_seconds: float = 0.0
    duration_seconds: float = 0.0
    rows_per_second: float = 0.0


_OUTCOME_FIELDS = tuple(f.name for f in dataclasses.fields(Outcome))


@dataclass(frozen=True)
class ExportRecord:
    export_id: str
    export_key: str
    report: str
    title: str
    params: Mapping[str, Any]
    format: str
    state: ExportState
    requested_by: str
    created_at: dt.datetime
    # The SHA-256 of the template text hashed into export_key: the worker runs exactly that text
    # (kept by the ledger under that hash, never in the status record, which carries no SQL) even
    # if a new version is published between submit and run.
    template_sha256: str = ""
    attempts: int = 0
    started_at: dt.datetime | None = None
    heartbeat_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None
    error: Mapping[str, Any] | None = None
    outcome: Outcome | None = None
    notified: bool | None = None
    notify_error: str | None = None
    notify_skipped: str | None = None
    slack_channel_secret: str | None = None
    timezone: str | None = None  # the report's zone key: Slack shows times in it (API times stay UTC)
    # Set by the server for a verified Slack request (chalicelib/exports/slack_commands.py): the user whose DM gets
    # the result (instead of the webhook), and the channel it was asked in (a channel-restricted
    # report's buttons check it).
    notify_slack_user: str | None = None
    slack_channel: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)  # fields a newer version wrote; kept, not read

    # serialisation ------------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = dict(self.extra)
        body.update(
            export_id=self.export_id,
            export_key=self.export_key,
            report=self.report,
            title=self.title,
            params=dict(self.params),
            format=self.format,
            status=self.state.value,
            requested_by=self.requested_by,
            created_at=iso(self.created_at),
            template_sha256=self.template_sha256,
            attempts=self.attempts,
            started_at=iso(self.started_at) if self.started_at else None,
            heartbeat_at=iso_precise(self.heartbeat_at) if self.heartbeat_at else None,  # liveness: to the microsecond
            finished_at=iso(self.finished_at) if self.finished_at else None,
            error=dict(self.error) if self.error else None,
            notified=self.notified,
            notify_error=self.notify_error,
            notify_skipped=self.notify_skipped,
        )
        for name in ("slack_channel_secret", "timezone", "notify_slack_user", "slack_channel"):
            if getattr(self, name) is not None:
                body[name] = getattr(self, name)
        if self.outcome is not None:
            body.update({name: getattr(self.outcome, name) for name in _OUTCOME_FIELDS})
            body["sheets"] = [dict(sheet) for sheet in self.outcome.sheets]
        return body

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> ExportRecord:
        known = {f.name for f in dataclasses.fields(cls)} | set(_OUTCOME_FIELDS) | {"status"}
        outcome = None
        if body.get("s3_key"):
            values = {name: body[name] for name in _OUTCOME_FIELDS if body.get(name) is not None}
            values["sheets"] = tuple(body.get("sheets") or ())
            outcome = Outcome(**values)
        return cls(
            export_id=str(body["export_id"]),
            export_key=str(body.get("export_key") or ""),
            report=str(body["report"]),
            title=str(body.get("title") or body["report"]),
            params=dict(body.get("params") or {}),
            format=str(body.get("format") or "xlsx"),
            state=ExportState(str(body["status"])),
            requested_by=str(body.get("requested_by") or "api"),
            created_at=parse_iso(str(body["created_at"])),
            template_sha256=str(body.get("template_sha256") or ""),
            attempts=int(body.get("attempts") or 0),
            started_at=_time(body.get("started_at")),
            heartbeat_at=_time(body.get("heartbeat_at")),
            finished_at=_time(body.get("finished_at")),
            error=body.get("error") or None,
            outcome=outcome,
            notified=body.get("notified"),
            notify_error=body.get("notify_error"),
            notify_skipped=body.get("notify_skipped"),
            slack_channel_secret=body.get("slack_channel_secret"),
            timezone=body.get("timezone"),
            notify_slack_user=body.get("notify_slack_user"),
            slack_channel=body.get("slack_channel"),
            extra={name: value for name, value in body.items() if name not in known},
        )

    # liveness -----------------------------------------------------------------------------------
    def last_sign_of_life(self) -> dt.datetime:
        return self.heartbeat_at or self.started_at or self.created_at

    def is_stale(self, now: dt.datetime, windows: StaleWindows) -> bool:
        """Unfinished, and its worker silent for longer than the window of its state."""
        if self.state.finished:
            return False
        window = windows.running if self.state is ExportState.RUNNING else windows.queued
        return now - self.last_sign_of_life() > window


@dataclass(frozen=True)
class StaleWindows:
    """How long silence means death: ``running`` beats every heartbeat interval; ``queued`` waits
    for Lambda to start the worker (asynchronous invokes may queue behind throttling)."""

    running: dt.timedelta
    queued: dt.timedelta


# transitions ---------------------------------------------------------------------------------
def _require(record: ExportRecord, allowed: tuple[ExportState, ...], transition: str) -> None:
    if record.state not in allowed:
        raise TransitionError(f"{transition}: export {record.export_id} is {record.state.value}, not {' or '.join(s.value for s in allowed)}")


def start(record: ExportRecord, now: dt.datetime) -> ExportRecord:
    """queued -> running; or running -> running when Lambda retries an invocation that crashed."""
    _require(record, (ExportState.QUEUED, ExportState.RUNNING), "start")
    return dataclasses.replace(record, state=ExportState.RUNNING, started_at=now, heartbeat_at=now)


def begin_attempt(record: ExportRecord, now: dt.datetime) -> ExportRecord:
    _require(record, (ExportState.RUNNING,), "begin_attempt")
    return dataclasses.replace(record, attempts=record.attempts + 1, heartbeat_at=now)


def beat(record: ExportRecord, now: dt.datetime) -> ExportRecord:
    _require(record, (ExportState.RUNNING,), "beat")
    return dataclasses.replace(record, heartbeat_at=now)


def succeed(record: ExportRecord, outcome: Outcome, now: dt.datetime, *, title: str | None = None) -> ExportRecord:
    _require(record, (ExportState.RUNNING,), "succeed")
    return dataclasses.replace(record, state=ExportState.SUCCEEDED, outcome=outcome, finished_at=now, error=None, title=title or record.title)


def fail(record: ExportRecord, error: Mapping[str, Any], now: dt.datetime) -> ExportRecord:
    _require(record, (ExportState.QUEUED, ExportState.RUNNING), "fail")
    return dataclasses.replace(record, state=ExportState.FAILED, error=dict(error), finished_at=now, outcome=None)


def serve_from(record: ExportRecord, finished: ExportRecord, now: dt.datetime) -> ExportRecord:
    """queued -> succeeded without running: an identical export finished while this one was being
    accepted, so this record points at the same file (a request that joined it finds it done)."""
    _require(record, (ExportState.QUEUED,), "serve_from")
    _require(finished, (ExportState.SUCCEEDED,), "serve_from")
    return dataclasses.replace(
        record,
        state=ExportState.SUCCEEDED,
        outcome=finished.outcome,
        finished_at=now,
        notified=False,
        notify_skipped=f"the identical export {finished.export_id} finished first and was notified",
        extra={**record.extra, "same_as": finished.export_id},
    )


def lose(record: ExportRecord, now: dt.datetime, message: str) -> ExportRecord:
    """Any unfinished state -> failed ``worker_lost``: its worker died (or Lambda gave up on it)."""
    _require(record, (ExportState.QUEUED, ExportState.RUNNING), "lose")
    return fail(record, {"code": "worker_lost", "message": message, "attempts": record.attempts}, now)


def record_notification(record: ExportRecord, *, delivered: bool, error: str | None = None, skipped: str | None = None) -> ExportRecord:
    """Slack delivery is recorded apart from the result, and only once the export has finished."""
    _require(record, (ExportState.SUCCEEDED, ExportState.FAILED), "record_notification")
    return dataclasses.replace(record, notified=delivered, notify_error=error, notify_skipped=skipped)


def awaits_notification(record: ExportRecord) -> bool:
    return record.state.finished and record.notified is None

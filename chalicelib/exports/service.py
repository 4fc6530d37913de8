"""The API side of exports: accepting a request, answering its status, listing the history.

A request is validated, matched against the cache and against exports in flight, recorded as
``queued`` and handed to the worker before the route answers 202; the worker (``worker.py``)
runs elsewhere: an asynchronous Lambda invoke in AWS, a background thread locally, behind the
same ``Dispatcher``. Submitting goes in an order that leaves nothing behind when a step fails:
the status record first (it has a fresh id, so no one else can see it), then the claim of the
export's identity (single flight), then the cache once more (a burst's late arrival finds the
export that finished while it waited), then the history index and the dispatch. A failure
after the claim releases it; the client is told to retry (503) and the retry succeeds.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import hashlib
import json
import re
import secrets as token_source
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from chalicelib.errors import (
    BadRequestError,
    ConflictError,
    ExportServiceError,
    NotFoundError,
    RetryLaterError,
    StorageError,
    UnprocessableError,
)
from chalicelib.exports import lifecycle
from chalicelib.exports.identity import export_key
from chalicelib.exports.ledger import ExportLedger, Handle, Joined, RecordChangedError, Won, template_digest
from chalicelib.exports.lifecycle import ExportRecord, ExportState, iso
from chalicelib.files.formats import ExportFormat, choose_format
from chalicelib.files.guards import RemainingMillis
from chalicelib.files.pipeline import ExportPipeline, ProgressCallback
from chalicelib.links import LinkMaker
from chalicelib.observability import log_event
from chalicelib.retry import RetryPolicy
from chalicelib.templating.parameters import to_json_params
from chalicelib.templating.template import ReportTemplate, validate_report_name

if TYPE_CHECKING:
    from chalicelib.exports.worker import ExportWorker

EXPORT_ID = re.compile(r"[0-9]{8}-[0-9]{6}-[0-9a-f]{10}")  # fullmatch; [0-9], as \d is any Unicode digit
_REQUEST_FIELDS = {"report", "params", "requested_by", "refresh", "idempotency_key", "format"}
_IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]{1,200}")
_HISTORY_LIMIT = 100
# requested_by values the server sets itself from a verified request (chalicelib/exports/slack_commands.py);
# a request body may not claim them.
SERVER_REQUESTER_PREFIX = "slack:"

PUBLIC_FIELDS = (
    "export_id",
    "report",
    "title",
    "params",
    "status",
    "requested_by",
    "row_count",
    "size_bytes",
    "file_name",
    "download_url",
    "expires_at",
    "error",
    "created_at",
    "started_at",
    "heartbeat_at",
    "finished_at",
    "duration_seconds",
    "rows_per_second",
    "truncated_cells",
    "sheets",
    "numbers_as_text",
    "format",
    "writer",
    "sha256",
    "attempts",
    "notified",
    "notify_error",
    "notify_skipped",
    "notify_slack_user",
)
_HISTORY_FIELDS = (
    "export_id",
    "report",
    "status",
    "requested_by",
    "params",
    "row_count",
    "size_bytes",
    "duration_seconds",
    "created_at",
    "finished_at",
    "notified",
)


def new_export_id(now: dt.datetime) -> str:
    """Sortable by creation time to the millisecond (history lists rely on it), then random."""
    return f"{now:%Y%m%d-%H%M%S}-{now.microsecond // 1000:03d}{token_source.token_hex(4)[:7]}"


def validate_export_id(export_id: str) -> str:
    if not EXPORT_ID.fullmatch(export_id):
        raise BadRequestError("export_id has the form YYYYMMDD-HHMMSS-<10 hex digits>", field="export_id", code="invalid_export_id")
    return export_id


class Dispatcher(Protocol):
    def dispatch(self, export_id: str) -> None: ...


class LambdaDispatcher:
    """Starts the worker function with an asynchronous invoke (the route never waits)."""

    def __init__(self, lambda_client: Any, function_name: str) -> None:
        self._client = lambda_client
        self._function_name = function_name

    def dispatch(self, export_id: str) -> None:
        self._client.invoke(FunctionName=self._function_name, InvocationType="Event", Payload=json.dumps({"export_id": export_id}).encode())


class ThreadDispatcher:
    """Runs the worker in a background thread, where no Lambda service exists (local stack)."""

    def __init__(self, run: Callable[[str], object]) -> None:
        self._run = run

    def dispatch(self, export_id: str) -> None:
        threading.Thread(target=self._run, args=(export_id,), name=f"export-{export_id}", daemon=True).start()


@dataclass(frozen=True)
class Requester:
    """Who asked, known by the server (a verified Slack request), and who gets the message."""

    requested_by: str  # "slack:<user id> (<user name>)"
    notify_slack_user: str | None = None  # a Slack user id: the result goes to their DM with the bot
    slack_channel: str | None = None  # where it was asked: a channel-restricted report's buttons check it


@dataclass(frozen=True)
class Submission:
    """The answer to POST /exports: 202 for a queued (or already running) export, 200 from cache."""

    status_code: int
    body: dict[str, Any]


@dataclass(frozen=True)
class JobPolicy:
    cache_ttl_seconds: int
    retention_days: int
    heartbeat_seconds: float
    retry: RetryPolicy


@dataclass(frozen=True)
class ExportRequest:
    """A validated POST /exports body: what to run, and for whom."""

    template: ReportTemplate
    fmt: ExportFormat
    params: dict[str, Any]
    requested_by: str
    refresh: bool
    key: str
    received_at: dt.datetime
    requester: Requester | None = None  # set by the server for a verified Slack request

    @property
    def request_hash(self) -> str:
        """What an idempotency key is bound to: the report, its normalised parameters, the format
        (not ``refresh`` nor ``requested_by``, which a client's retry may change)."""
        identity = {"report": self.template.name, "params": self.params, "format": self.fmt.name}
        return hashlib.sha256(json.dumps(identity, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


class ExportJobs:
    def __init__(
        self,
        pipeline: ExportPipeline,
        links: LinkMaker,
        ledger: ExportLedger,
        policy: JobPolicy,
        dispatcher: Dispatcher,
        worker: ExportWorker,
    ) -> None:
        self.pipeline = pipeline
        self.storage = pipeline.storage
        self.links = links
        self.ledger = ledger
        self.policy = policy
        self.dispatcher = dispatcher
        self.worker = worker
        self.stage = pipeline.settings.stage
        # The export a read found dead gets its one Slack message from the worker, which knows how.
        ledger.on_lost = lambda export_id: self.dispatcher.dispatch(export_id)

    def run(
        self, export_id: str, remaining_millis: RemainingMillis | None = None, *, progress: ProgressCallback | None = None, notify: bool = True
    ) -> ExportRecord:
        """The worker's ``run``, for callers that submit and run in one process (the command line)."""
        return self.worker.run(export_id, remaining_millis, progress=progress, notify=notify)

    # reports ----------------------------------------------------------------------------------
    def list_reports(self) -> list[dict[str, Any]]:
        reports = []
        for name in self.pipeline.templates.names():  # the configured source, listed and loaded alike
            try:
                reports.append(self.pipeline.load_template(name).describe())
            except ExportServiceError as exc:
                reports.append({"name": name, "error": exc.to_dict()})
        return reports

    def describe_report(self, name: str) -> dict[str, Any]:
        return self.pipeline.load_template(name).describe()

    # submit -----------------------------------------------------------------------------------
    def submit(self, body: Any, *, idempotency_key: str | None = None, dispatch: bool = True, requester: Requester | None = None) -> Submission:
        """Answer POST /exports. The command line passes ``dispatch=False`` and runs the worker itself.

        ``requester`` comes from the server (a verified Slack request), never from the body.
        """
        if not isinstance(body, Mapping):
            raise BadRequestError("request body must be a JSON object", field="body")
        unknown = sorted(set(body) - _REQUEST_FIELDS)
        if unknown:
            raise BadRequestError(f"unknown field {unknown[0]!r}", field=unknown[0], code="unknown_field")
        idempotency_key = _idempotency_key(idempotency_key, body.get("idempotency_key"))
        try:
            request = self.parse_request(body, requester)
            if idempotency_key is None:
                return self._submit(request, dispatch)
            return self._submit_once(request, idempotency_key, dispatch)
        except StorageError as exc:
            log_event("submit_failed", "submit failed on storage; nothing left claimed", error_code=exc.code)
            raise RetryLaterError(f"the export could not be recorded ({exc.message}); retry the request", code=exc.code) from exc

    def parse_request(self, body: Mapping[str, Any], requester: Requester | None = None) -> ExportRequest:
        if "report" not in body:
            raise BadRequestError("field 'report' is required", field="report")
        template = self.pipeline.load_template(body["report"])
        fmt = choose_format(body.get("format"), template.options.format)
        if fmt.name != "xlsx" and len(template.sheets) > 1:
            message = f"report {template.name!r} has {len(template.sheets)} sheets; {fmt.name} holds one table: ask for xlsx"
            raise BadRequestError(message, field="format", code="invalid_format")
        now = self.ledger.clock()
        params = to_json_params(self.pipeline.resolve(template, body.get("params"), now=now))
        refresh = body.get("refresh", False)
        if not isinstance(refresh, bool):
            raise BadRequestError("refresh must be true or false", field="refresh")
        key = export_key(template.name, template.body, params, fmt.name)
        requested_by = requester.requested_by if requester else _requested_by(body.get("requested_by", "api"))
        return ExportRequest(template, fmt, params, requested_by, refresh, key, now, requester)

    def _submit_once(self, request: ExportRequest, idempotency_key: str, dispatch: bool) -> Submission:
        request_hash = request.request_hash
        deadline = time.monotonic() + 10
        while True:
            record = self.ledger.find_idempotency(idempotency_key)
            if record is not None and record.request_hash and record.request_hash != request_hash:
                raise UnprocessableError(
                    f"Idempotency-Key {idempotency_key!r} was first used for another request (report, params or format differ); use a new key",
                    field="idempotency_key",
                    code="idempotency_key_reused",
                )
            if record is not None and record.state == "done":
                if record.export_id:
                    return self._replay(record.export_id, record.status_code)
                self.ledger.forget_idempotency(idempotency_key)  # written by an older version: no export to replay
                continue
            if record is None and self.ledger.reserve_idempotency(idempotency_key, request_hash):
                break
            if time.monotonic() > deadline:
                raise ConflictError("a request with this Idempotency-Key is still being answered; retry shortly", field="idempotency_key")
            time.sleep(0.2)
        try:
            submission = self._submit(request, dispatch)
        except BaseException:
            self.ledger.forget_idempotency(idempotency_key)  # a rejected request may be corrected and sent again
            raise
        self.ledger.complete_idempotency(idempotency_key, request_hash, str(submission.body["export_id"]), submission.status_code)
        return submission

    def _replay(self, export_id: str, status_code: int) -> Submission:
        """The first answer's export and status code, with its state now and a fresh link."""
        view = self.public_status(export_id)
        return Submission(status_code, {**view, "status_url": status_url(export_id), "idempotent_replay": True})

    def _submit(self, request: ExportRequest, dispatch: bool) -> Submission:
        who: dict[str, Any] = {"report": request.template.name, "requested_by": request.requested_by, "deploy_stage": self.stage}
        if not request.refresh:
            cached = self._cached(request, fresh_since=None)
            if cached is not None:
                log_event("cached", "answered from the cache", export_id=cached.body["export_id"], **who)
                return cached
        handle = self.ledger.create(self._queued_record(request))
        export_id = handle.record.export_id
        try:
            admission = self.ledger.claim(request.key, export_id)
        except BaseException:
            self.ledger.discard(handle)
            raise
        if isinstance(admission, Joined):
            self.ledger.discard(handle)
            log_event("joined", "joined an identical export in flight", export_id=admission.export_id, **who)
            return Submission(202, _accepted(admission.export_id, admission.state, deduplicated=True))
        log_event("claimed", "claimed the export", export_id=export_id, taken_over_from=admission.taken_over_from, **who)
        return self._start(request, handle, admission, dispatch, who)

    def _start(self, request: ExportRequest, handle: Handle, won: Won, dispatch: bool, who: dict[str, Any]) -> Submission:
        export_id = handle.record.export_id
        try:
            # Re-checked after winning: a request that missed the cache while an identical export
            # was finishing would otherwise run it again. A refresh accepts only an export that
            # finished after it arrived (as fresh as it asked for).
            cached = self._cached(request, fresh_since=request.received_at if request.refresh else None)
            if cached is not None:
                self._serve_from_cache(handle, str(cached.body["export_id"]))
                self.ledger.release(request.key, export_id)
                log_event("cached", "an identical export finished while this request waited", export_id=cached.body["export_id"], **who)
                return cached
            self.ledger.keep_template(request.template.body)  # before the worker can need it
            self.ledger.index(handle.record)
            if dispatch:
                handle = self._dispatch(handle)
        except BaseException:
            self._abandon(handle, code="not_started", message="the export could not be started; ask again")
            self.ledger.release(request.key, export_id)
            raise
        log_event("accepted", "export accepted", export_id=export_id, taken_over_from=won.taken_over_from, **who)
        return Submission(202, _accepted(export_id, "queued"))

    def _serve_from_cache(self, handle: Handle, finished_id: str) -> None:
        """Requests may have joined this record already: it must not vanish, so it becomes a
        pointer to the export that finished first."""
        finished = self.ledger.load(finished_id)
        if finished is not None:
            record = lifecycle.serve_from(handle.record, finished.record, self.ledger.clock())
            self.ledger.commit(handle, record, "served_from_cache", same_as=finished_id)
            self.worker.tell_joiners(record)

    def _abandon(self, handle: Handle, *, code: str, message: str) -> None:
        """A record that will never run, failed for whoever joined it (they are told to ask again)."""
        if handle.record.state.finished:
            return
        error = {"code": code, "message": message}
        record = dataclasses.replace(lifecycle.fail(handle.record, error, self.ledger.clock()), notified=False, notify_skipped="never started")
        with contextlib.suppress(StorageError, RecordChangedError):
            self.ledger.commit(handle, record, "failed", error_code=code)
            self.worker.tell_joiners(record)

    def _queued_record(self, request: ExportRequest) -> ExportRecord:
        template, requester = request.template, request.requester
        return ExportRecord(
            export_id=new_export_id(request.received_at),
            export_key=request.key,
            report=template.name,
            title=template.title,
            params=request.params,
            format=request.fmt.name,
            state=ExportState.QUEUED,
            requested_by=request.requested_by,
            created_at=request.received_at,
            template_sha256=template_digest(template.body),  # kept by _start, once this record is to run
            slack_channel_secret=template.options.slack_channel_secret or None,
            timezone=self.pipeline.report_zone(template).key,  # Slack shows times in the report's zone
            notify_slack_user=requester.notify_slack_user if requester else None,
            slack_channel=requester.slack_channel if requester and requester.notify_slack_user else None,
        )

    def _dispatch(self, handle: Handle) -> Handle:
        try:
            self.dispatcher.dispatch(handle.record.export_id)
        except Exception as exc:
            # _start then releases the claim (its own cleanup write loses to this one, harmlessly).
            self._abandon(handle, code="dispatch_failed", message="the export worker could not be started; ask again")
            raise RetryLaterError("the export worker could not be started; retry the request", code="dispatch_failed") from exc
        return handle

    def _cache_ttl(self, template: ReportTemplate) -> int:
        ttl = template.options.cache_ttl
        return ttl if ttl is not None else self.policy.cache_ttl_seconds

    def _cached(self, request: ExportRequest, *, fresh_since: dt.datetime | None) -> Submission | None:
        latest = self.ledger.latest_success(request.key)
        if latest is None:
            return None
        if fresh_since is not None:
            if latest.finished_at < fresh_since:
                return None
        else:
            ttl = self._cache_ttl(request.template)
            if ttl <= 0 or self.ledger.clock() - latest.finished_at > dt.timedelta(seconds=ttl):
                return None
        try:
            view = self.public_status(latest.export_id)
        except NotFoundError:
            return None
        if view["status"] != "succeeded":
            return None
        return Submission(200, {**view, "cached": True, "status_url": status_url(latest.export_id)})

    # status and history -----------------------------------------------------------------------
    def record(self, export_id: str) -> ExportRecord:
        """The export's record as it is now (a dead worker found here is declared lost)."""
        settled = self.ledger.settle(validate_export_id(export_id))
        if settled is None:
            raise NotFoundError(f"export {export_id!r} does not exist", field="export_id")
        return settled.handle.record

    def public_status(self, export_id: str) -> dict[str, Any]:
        record = self.record(export_id)
        body = record.to_json()
        view = {name: body.get(name) for name in PUBLIC_FIELDS}
        if record.state is ExportState.SUCCEEDED and record.outcome is not None:
            if self._expired(record):
                days = self.policy.retention_days
                view.update(status="expired", download_url=None, expires_at=None)
                view["error"] = {"code": "expired", "message": f"the file was deleted after {days} days; ask for a new export"}
            else:
                link = self.links.link_for(record.outcome.s3_key)
                view["download_url"], view["expires_at"] = link.url, iso(link.expires_at)
        return view

    def _expired(self, record: ExportRecord) -> bool:
        assert record.outcome is not None
        finished = record.finished_at or record.created_at
        if self.ledger.clock() - finished > dt.timedelta(days=self.policy.retention_days):
            return True
        return not self.storage.files.exists(record.outcome.s3_key)

    def history(self, report: str | None, limit: int) -> list[dict[str, Any]]:
        """Recent exports, newest first, optionally of one report: one page of the index, not all."""
        entries = []
        for export_id in self.ledger.newest(validate_report_name(report) if report is not None else None, limit):
            settled = self.ledger.settle(export_id)
            if settled is None:
                continue
            body = settled.handle.record.to_json()
            entries.append({name: body.get(name) for name in _HISTORY_FIELDS})
        return entries


def history_query(query: Mapping[str, str]) -> tuple[str | None, int]:
    """Validate GET /exports query parameters: ``report`` (optional) and ``limit`` (1-100)."""
    unknown = sorted(set(query) - {"report", "limit"})
    if unknown:
        raise BadRequestError(f"unknown query parameter {unknown[0]!r}", field=unknown[0], code="unknown_field")
    report = validate_report_name(query["report"]) if "report" in query else None
    raw_limit = query.get("limit", "20")
    if not re.fullmatch(r"[0-9]{1,3}", raw_limit) or not 1 <= int(raw_limit) <= _HISTORY_LIMIT:
        raise BadRequestError(f"limit must be an integer from 1 to {_HISTORY_LIMIT}", field="limit")
    return report, int(raw_limit)


def status_url(export_id: str) -> str:
    return f"/exports/{export_id}"


def _accepted(export_id: str, state: str, *, deduplicated: bool = False) -> dict[str, Any]:
    body: dict[str, Any] = {"export_id": export_id, "status": state, "status_url": status_url(export_id)}
    if deduplicated:
        body["deduplicated"] = True
    return body


def _requested_by(value: Any) -> str:
    if not isinstance(value, str) or not 0 < len(value) <= 100 or not value.isprintable():
        raise BadRequestError("requested_by must be a string of 1-100 printable characters", field="requested_by")
    if value.startswith(SERVER_REQUESTER_PREFIX):
        message = f"requested_by may not start with {SERVER_REQUESTER_PREFIX!r}: the service sets it for verified Slack requests"
        raise BadRequestError(message, field="requested_by", code="reserved_requester")
    return value


def _idempotency_key(header: str | None, field: Any) -> str | None:
    if header is not None and field is not None and header != field:
        raise BadRequestError("the Idempotency-Key header and the body's idempotency_key differ; send one key", field="idempotency_key")
    value = header if header is not None else field
    if value is None:
        return None
    if not isinstance(value, str) or not _IDEMPOTENCY_KEY.fullmatch(value):
        name = "Idempotency-Key" if header is not None else "idempotency_key"
        raise BadRequestError("an idempotency key is 1-200 visible ASCII characters", field=name, code="invalid_idempotency_key")
    return value

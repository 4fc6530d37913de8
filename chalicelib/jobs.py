"""Export jobs: accepting a request, dispatching the worker, status transitions, notification.

A request is validated, matched against the cache and against exports in flight (single-flight
claims, see coordination.py), and recorded as ``queued`` before the route answers 202; the worker
runs elsewhere (an asynchronous Lambda invoke in AWS, a background thread locally: same
interface). Status objects move queued -> running -> succeeded | failed; a finished export is
never run again, so a repeated worker invocation (a Lambda retry) is harmless. Slack delivery is
recorded apart from the export's result: a built file is never rebuilt because Slack failed.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import secrets as token_source
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from chalicelib import metrics, slack
from chalicelib.coordination import Claim, Coordinator, Heartbeat, export_key, iso, parse_iso, utc_now
from chalicelib.errors import BadRequestError, ConflictError, ExportServiceError, NotFoundError
from chalicelib.export import ExportPipeline, ExportResult, ProgressCallback
from chalicelib.formats import choose_format
from chalicelib.guards import RemainingMillis
from chalicelib.links import LinkMaker
from chalicelib.observability import log_context, log_event
from chalicelib.params import to_json_params
from chalicelib.retry import RetryPolicy, run_with_retries
from chalicelib.secrets import SecretStore
from chalicelib.templates import ReportTemplate, validate_report_name

if TYPE_CHECKING:
    from chalicelib.workbook import SheetSummary

logger = logging.getLogger(__name__)

EXPORT_ID = re.compile(r"[0-9]{8}-[0-9]{6}-[0-9a-f]{10}")  # fullmatch; [0-9], as \d is any Unicode digit
FINISHED = ("succeeded", "failed")
_REQUEST_FIELDS = {"report", "params", "requested_by", "refresh", "idempotency_key", "format"}
_IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]{1,200}")
_HISTORY_LIMIT = 100
# requested_by values the server sets itself from a verified request (chalicelib/slack_app.py);
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


class SlackNotifier:
    """Delivers Slack messages, retrying 429 (honouring Retry-After) and 5xx with backoff."""

    def __init__(self, secrets: SecretStore, secret_name: str, retry: RetryPolicy, *, sleep: Callable[[float], None] = time.sleep) -> None:
        self._secrets = secrets
        self._secret_name = secret_name
        self._retry = retry
        self._sleep = sleep

    def send(self, payload: Mapping[str, Any], *, secret_name: str | None = None) -> None:
        """``secret_name`` routes a report to another channel: the secret holds that channel's webhook."""
        url = self._secrets.webhook_url(secret_name or self._secret_name)
        run_with_retries(lambda _attempt: slack.post_message(url, payload), self._retry, sleep=self._sleep)


@dataclass(frozen=True)
class Requester:
    """Who asked, known by the server (a verified Slack request), and who gets the message."""

    requested_by: str  # "slack:<user id> (<user name>)"
    notify_slack_user: str | None = None  # a Slack user id: the result goes to their DM with the bot
    slack_channel: str | None = None  # where it was asked: a channel-restricted report's buttons check it


# The Slack app's delivery hook: given a finished export's status and its message, deliver it
# (direct messages); True when that replaces the webhook, False to post to the webhook as well.
MessageHook = Callable[[Mapping[str, Any], Mapping[str, Any]], bool]


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


class ExportJobs:
    def __init__(
        self,
        pipeline: ExportPipeline,
        links: LinkMaker,
        notifier: SlackNotifier,
        coordinator: Coordinator,
        policy: JobPolicy,
        dispatcher: Dispatcher | None = None,
    ) -> None:
        self.pipeline = pipeline
        self.storage = pipeline.storage
        self.links = links
        self.notifier = notifier
        self.coordinator = coordinator
        self.policy = policy
        self.dispatcher = dispatcher or ThreadDispatcher(self.run)
        self.stage = pipeline.settings.stage
        self.message_hook: MessageHook | None = None  # set where the Slack app is configured (runtime.py)
        # Conditional writes make claims atomic in S3; this lock only serialises claims made by
        # one process (chalice local), because the local S3 endpoint checks and writes in two steps.
        self._claim_lock = threading.Lock()

    # the API side ---------------------------------------------------------------------------
    def list_reports(self) -> list[dict[str, Any]]:
        reports = []
        for name in self.storage.list_template_names():
            try:
                reports.append(self.pipeline.load_template(name).describe())
            except ExportServiceError as exc:
                reports.append({"name": name, "error": exc.to_dict()})
        return reports

    def describe_report(self, name: str) -> dict[str, Any]:
        return self.pipeline.load_template(name).describe()

    def submit(self, body: Any, *, idempotency_key: str | None = None, dispatch: bool = True, requester: Requester | None = None) -> Submission:
        """Answer POST /exports: the first answer for a repeated idempotency key, else a new one.

        The command line passes ``dispatch=False`` and then calls ``run`` itself, in the foreground.
        ``requester`` comes from the server (a verified Slack request), never from the body.
        """
        if not isinstance(body, Mapping):
            raise BadRequestError("request body must be a JSON object", field="body")
        unknown = sorted(set(body) - _REQUEST_FIELDS)
        if unknown:
            raise BadRequestError(f"unknown field {unknown[0]!r}", field=unknown[0], code="unknown_field")
        idempotency_key = _idempotency_key(idempotency_key, body.get("idempotency_key"))
        if idempotency_key is None:
            return self._submit(body, dispatch, requester)
        return self._submit_once(body, idempotency_key, dispatch, requester)

    def _submit_once(self, body: Mapping[str, Any], idempotency_key: str, dispatch: bool, requester: Requester | None) -> Submission:
        for _ in range(3):
            record = self.coordinator.find_response(idempotency_key)
            if record is not None and record.state == "done":
                return Submission(record.status_code, {**record.body, "idempotent_replay": True})
            if record is not None:
                raise ConflictError("a request with this Idempotency-Key is still being answered; retry shortly", field="idempotency_key")
            if self.coordinator.reserve(idempotency_key):
                break
        else:
            raise ConflictError("a request with this Idempotency-Key is still being answered; retry shortly", field="idempotency_key")
        try:
            submission = self._submit(body, dispatch, requester)
        except BaseException:
            self.coordinator.forget(idempotency_key)  # a rejected request may be corrected and sent again
            raise
        self.coordinator.store_response(idempotency_key, submission.status_code, submission.body)
        return submission

    def _submit(self, body: Mapping[str, Any], dispatch: bool, requester: Requester | None = None) -> Submission:
        if "report" not in body:
            raise BadRequestError("field 'report' is required", field="report")
        template = self.pipeline.load_template(body["report"])
        fmt = choose_format(body.get("format"), template.options.format)
        now = utc_now()
        values = self.pipeline.resolve(template, body.get("params"), now=now)
        params = to_json_params(values)
        requested_by = requester.requested_by if requester else _requested_by(body.get("requested_by", "api"))
        refresh = body.get("refresh", False)
        if not isinstance(refresh, bool):
            raise BadRequestError("refresh must be true or false", field="refresh")
        key = export_key(template.name, template.body, params, fmt.name)
        who: dict[str, Any] = {"report": template.name, "requested_by": requested_by, "deploy_stage": self.stage}
        if not refresh:
            cached = self._cached(key, self._cache_ttl(template))
            if cached is not None:
                log_event("cached", "answered from the cache", export_id=cached["export_id"], **who)
                return Submission(200, {**cached, "cached": True, "status_url": _status_url(cached["export_id"])})
        export_id = new_export_id(now)
        with self._claim_lock:
            claim = self.coordinator.claim(key, export_id)
        if isinstance(claim, str):
            log_event("joined", "joined an identical export in flight", export_id=claim, **who)
            current = self.storage.get_status(claim)
            return Submission(202, _accepted(claim, str(current.get("status", "queued")), deduplicated=True))
        log_event("claimed", "claimed the export", export_id=export_id, taken_over_from=claim.taken_over_from or None, **who)
        self._retire_lost_export(claim)
        status: dict[str, Any] = {
            "export_id": export_id,
            "export_key": key,
            "report": template.name,
            "title": template.title,
            "params": params,
            "format": fmt.name,
            "status": "queued",
            "requested_by": requested_by,
            "created_at": iso(now),
            "attempts": 0,
            **_routing(template),
        }
        if requester is not None and requester.notify_slack_user:
            status.update(notify_slack_user=requester.notify_slack_user, slack_channel=requester.slack_channel)
        self.storage.put_status(status)
        self.coordinator.index(template.name, export_id)
        if dispatch:
            self._dispatch(status)
        log_event("accepted", "export accepted", export_id=export_id, **who)
        return Submission(202, _accepted(export_id, "queued"))

    def _dispatch(self, status: dict[str, Any]) -> None:
        try:
            self.dispatcher.dispatch(str(status["export_id"]))
        except Exception as exc:
            self.coordinator.release(str(status["export_key"]), str(status["export_id"]))
            self._fail(status, {"code": "dispatch_failed", "message": "the export worker could not be started"})
            raise ExportServiceError("the export worker could not be started; retry later", code="dispatch_failed") from exc

    def _cache_ttl(self, template: ReportTemplate) -> int:
        ttl = template.options.cache_ttl
        return ttl if ttl is not None else self.policy.cache_ttl_seconds

    def _cached(self, key: str, ttl_seconds: int) -> dict[str, Any] | None:
        export_id = self.coordinator.cached_export_id(key, ttl_seconds)
        if export_id is None:
            return None
        try:
            view = self.public_status(export_id)
        except NotFoundError:
            return None
        return view if view["status"] == "succeeded" else None

    def _retire_lost_export(self, claim: Claim) -> None:
        """A claim taken over from a dead worker: its export will never finish, so say so."""
        if not claim.taken_over_from:
            return
        try:
            lost = self.storage.get_status(claim.taken_over_from)
        except NotFoundError:
            return
        if lost.get("status") not in FINISHED:
            lost.update(status="failed", finished_at=iso(utc_now()))
            lost["error"] = {"code": "worker_lost", "message": "the worker stopped without finishing; a new export took over"}
            self.storage.put_status(lost)

    def public_status(self, export_id: str) -> dict[str, Any]:
        status = self.storage.get_status(validate_export_id(export_id))
        view = {name: status.get(name) for name in PUBLIC_FIELDS}
        if status.get("status") == "succeeded" and status.get("s3_key"):
            if self._expired(status):
                days = self.policy.retention_days
                view.update(status="expired", download_url=None, expires_at=None)
                view["error"] = {"code": "expired", "message": f"the file was deleted after {days} days; ask for a new export"}
            else:
                link = self.links.link_for(str(status["s3_key"]))
                view["download_url"], view["expires_at"] = link.url, iso(link.expires_at)
        return view

    def _expired(self, status: Mapping[str, Any]) -> bool:
        finished = parse_iso(str(status.get("finished_at") or status["created_at"]))
        if utc_now() - finished > dt.timedelta(days=self.policy.retention_days):
            return True
        return not self.storage.export_exists(str(status["s3_key"]))

    def history(self, report: str | None, limit: int) -> list[dict[str, Any]]:
        """Recent exports, newest first, optionally of one report."""
        if report is not None:
            export_ids = self.coordinator.export_ids_for(validate_report_name(report))
        else:
            export_ids = self.storage.list_status_ids()
        entries = []
        for export_id in reversed(export_ids[-limit:]):
            try:
                status = self.storage.get_status(export_id)
            except NotFoundError:
                continue
            entries.append({name: status.get(name) for name in _HISTORY_FIELDS})
        return entries

    # the worker side ------------------------------------------------------------------------
    def run(
        self, export_id: str, remaining_millis: RemainingMillis | None = None, *, progress: ProgressCallback | None = None, notify: bool = True
    ) -> dict[str, Any]:
        """Run one queued export to its end; safe to call twice for the same export.

        ``remaining_millis`` is the Lambda context's clock; without one (a local thread, the command
        line) only the /tmp guard applies.
        """
        try:
            status = self.storage.get_status(validate_export_id(export_id))
        except NotFoundError:
            logger.error("worker got an unknown export", extra={"export_id": export_id})
            raise
        with log_context(export_id=export_id, report=status.get("report"), requested_by=status.get("requested_by"), deploy_stage=self.stage):
            return self._run(status, remaining_millis, progress, notify)

    def _run(
        self, status: dict[str, Any], remaining_millis: RemainingMillis | None, progress: ProgressCallback | None, notify: bool
    ) -> dict[str, Any]:
        export_id = str(status["export_id"])
        if status.get("status") in FINISHED:
            log_event("finished_before", "export already finished; nothing to do")
            return status
        started = time.monotonic()
        log_event("running", "worker started", attempts=int(status.get("attempts") or 0))
        key = str(status.get("export_key", ""))
        status.update(status="running", started_at=iso(utc_now()))
        self.storage.put_status(status)
        with Heartbeat(self.coordinator, key, export_id, self.policy.heartbeat_seconds):
            try:
                run_with_retries(lambda attempt: self._attempt(status, attempt, remaining_millis, progress), self.policy.retry)
            except ExportServiceError as exc:
                self._fail(status, {**exc.to_dict(), "attempts": status.get("attempts")}, duration=time.monotonic() - started)
            except Exception:  # the worker must always leave a final status and tell someone
                logger.exception("export crashed", extra={"export_id": export_id})
                error = {"code": "internal_error", "message": "the export failed unexpectedly; see the worker logs"}
                self._fail(status, error, duration=time.monotonic() - started)
        if status["status"] == "succeeded":
            self.coordinator.remember_success(key, export_id, str(status["finished_at"]))
        self.coordinator.release(key, export_id)
        if notify:
            self._notify(status)
        else:
            status.update(notified=False, notify_skipped="not requested")
            self.storage.put_status(status)
        return status

    def _attempt(self, status: dict[str, Any], attempt: int, remaining_millis: RemainingMillis | None, progress: ProgressCallback | None) -> None:
        status["attempts"] = int(status.get("attempts") or 0) + 1
        if attempt > 1:
            self.storage.put_status(status)
        self._produce(status, remaining_millis, progress)

    def _produce(self, status: dict[str, Any], remaining_millis: RemainingMillis | None, progress: ProgressCallback | None) -> None:
        template = self.pipeline.load_template(str(status["report"]))
        status.update(_routing(template), timezone=self.pipeline.report_zone(template).key)  # Slack shows times in it
        created_at = parse_iso(str(status["created_at"]))
        values = self.pipeline.resolve(template, status.get("params"), now=created_at)
        fmt = choose_format(status.get("format"), template.options.format)
        result = self.pipeline.export(
            str(status["export_id"]), template, values, created_at, fmt=fmt, remaining_millis=remaining_millis, progress=progress
        )
        rate = result.row_count / result.total_seconds if result.total_seconds > 0 else 0.0
        status.update(
            status="succeeded",
            title=template.title,
            sheets=[_sheet_entry(sheet) for sheet in result.sheets],
            row_count=result.row_count,
            size_bytes=result.stored.size_bytes,
            s3_key=result.stored.key,
            etag=result.stored.etag,
            file_name=result.file_name,
            truncated_cells=result.truncated_cells,
            numbers_as_text=result.numbers_as_text,
            format=result.format,
            writer=result.writer,
            sha256=result.stored.sha256,
            query_seconds=round(result.query_seconds, 3),
            duration_seconds=round(result.total_seconds, 3),
            rows_per_second=round(rate, 1),
            finished_at=iso(utc_now()),
            error=None,
        )
        if _skips_notification(template, result):
            status["notify_skipped"] = "no rows (the report says on_empty: skip)"
        self.storage.put_status(status)
        timings: dict[str, Any] = {
            "duration_seconds": round(result.total_seconds, 3),
            "query_seconds": round(result.query_seconds, 3),
            "write_seconds": round(result.write_seconds, 3),
            "upload_seconds": round(result.upload_seconds, 3),
        }
        size = result.stored.size_bytes
        log_event("succeeded", "export succeeded", rows=result.row_count, size_bytes=size, rows_per_second=round(rate, 1), **timings)
        metrics.export_succeeded(
            stage=self.stage,
            report=template.name,
            rows=result.row_count,
            size_bytes=result.stored.size_bytes,
            duration=result.total_seconds,
            query_time=result.query_seconds,
            write_time=result.write_seconds,
        )

    def _fail(self, status: dict[str, Any], error: dict[str, Any], *, duration: float = 0.0) -> None:
        status.update(status="failed", error=error, finished_at=iso(utc_now()))
        self.storage.put_status(status)
        fields = {"export_id": status["export_id"], "report": status.get("report"), "requested_by": status.get("requested_by")}
        log_event(
            "failed",
            "export failed",
            level=logging.WARNING,
            error_code=error.get("code"),
            attempts=status.get("attempts"),
            duration_seconds=round(duration, 3),
            **fields,
        )
        metrics.export_failed(stage=self.stage, report=str(status.get("report")), duration=duration)

    def _notify(self, status: dict[str, Any]) -> None:
        if status.get("notify_skipped"):
            status["notified"] = False
            self.storage.put_status(status)
            return
        started = time.monotonic()
        try:
            # Inside the try: a link that cannot be signed (signing key not filled in) is a
            # notification failure recorded on the export, not a crash after a finished export.
            if status["status"] == "succeeded":
                link = self.links.link_for(str(status["s3_key"]))
                payload = slack.success_message(status, download_url=link.url, expires_at=iso(link.expires_at))
            else:
                payload = slack.failure_message(status)
            if self.message_hook is None or not self.message_hook(status, payload):
                self.notifier.send(payload, secret_name=status.get("slack_channel_secret"))
            status.update(notified=True, notify_error=None)
            log_event("notified", "Slack message delivered", slack_seconds=round(time.monotonic() - started, 3))
        except ExportServiceError as exc:
            status.update(notified=False, notify_error=exc.message)
            took = round(time.monotonic() - started, 3)
            log_event("notify_failed", "Slack message not delivered", level=logging.WARNING, error_code=exc.code, slack_seconds=took)
            metrics.slack_delivery_failed(stage=self.stage, report=str(status.get("report")))
        self.storage.put_status(status)


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


def _status_url(export_id: str) -> str:
    return f"/exports/{export_id}"


def _accepted(export_id: str, state: str, *, deduplicated: bool = False) -> dict[str, Any]:
    body: dict[str, Any] = {"export_id": export_id, "status": state, "status_url": _status_url(export_id)}
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
    value = header if header is not None else field
    if value is None:
        return None
    if not isinstance(value, str) or not _IDEMPOTENCY_KEY.fullmatch(value):
        name = "Idempotency-Key" if header is not None else "idempotency_key"
        raise BadRequestError("an idempotency key is 1-200 visible ASCII characters", field=name, code="invalid_idempotency_key")
    return value


def _sheet_entry(sheet: SheetSummary) -> dict[str, Any]:
    """A sheet of the report; past Excel's row limit its rows continue on further sheets."""
    entry: dict[str, Any] = {"name": sheet.name, "row_count": sheet.row_count}
    if len(sheet.sheet_names) > 1:
        entry["continued_on"] = list(sheet.sheet_names[1:])
    return entry


def _routing(template: ReportTemplate) -> dict[str, Any]:
    """Where the report's Slack message goes: a secret naming another webhook, if the header sets one."""
    secret = template.options.slack_channel_secret
    return {"slack_channel_secret": secret} if secret else {}


def _skips_notification(template: ReportTemplate, result: ExportResult) -> bool:
    return result.row_count == 0 and template.options.on_empty == "skip"

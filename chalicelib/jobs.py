"""Export jobs: accepting a request, dispatching the worker, status transitions, notification.

A request is validated and recorded as ``queued`` before the route answers 202; the worker runs
elsewhere (an asynchronous Lambda invoke in AWS, a background thread locally: same interface).
Status objects move queued -> running -> succeeded | failed and a finished export is never run
again, so a repeated worker invocation is harmless.
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
from typing import Any, Protocol

from chalicelib import slack
from chalicelib.errors import BadRequestError, DeliveryError, ExportServiceError, NotFoundError
from chalicelib.export import ExportPipeline
from chalicelib.formats import choose_format
from chalicelib.guards import RemainingMillis
from chalicelib.links import LinkMaker
from chalicelib.params import to_json_params
from chalicelib.secrets import SecretStore

logger = logging.getLogger(__name__)

EXPORT_ID = re.compile(r"^\d{8}-\d{6}-[0-9a-f]{10}$")
FINISHED = ("succeeded", "failed")
_REQUEST_FIELDS = {"report", "params", "requested_by", "format"}
_SLACK_ATTEMPTS = 3
_SLACK_MAX_WAIT_SECONDS = 30.0

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
    "numbers_as_text",
    "format",
    "sheets",
    "sha256",
    "notified",
)


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def new_export_id(now: dt.datetime) -> str:
    return f"{now:%Y%m%d-%H%M%S}-{token_source.token_hex(5)}"


def validate_export_id(export_id: str) -> str:
    if not EXPORT_ID.match(export_id):
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
    def __init__(self, secrets: SecretStore, secret_name: str, *, sleep: Callable[[float], None] = time.sleep) -> None:
        self._secrets = secrets
        self._secret_name = secret_name
        self._sleep = sleep

    def send(self, payload: Mapping[str, Any]) -> None:
        """Deliver one message, retrying 429 (honouring Retry-After) and 5xx a few times."""
        url = self._secrets.webhook_url(self._secret_name)
        for attempt in range(1, _SLACK_ATTEMPTS + 1):
            try:
                slack.post_message(url, payload)
                return
            except DeliveryError as exc:
                if not exc.transient or attempt == _SLACK_ATTEMPTS:
                    raise
                self._sleep(min(exc.retry_after if exc.retry_after is not None else 2.0**attempt, _SLACK_MAX_WAIT_SECONDS))


class ExportJobs:
    def __init__(self, pipeline: ExportPipeline, links: LinkMaker, notifier: SlackNotifier, dispatcher: Dispatcher | None = None) -> None:
        self.pipeline = pipeline
        self.storage = pipeline.storage
        self.links = links
        self.notifier = notifier
        self.dispatcher = dispatcher or ThreadDispatcher(self.run)

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

    def submit(self, body: Any) -> dict[str, Any]:
        """Validate a POST /exports body, record the export as queued and dispatch the worker."""
        if not isinstance(body, Mapping):
            raise BadRequestError("request body must be a JSON object", field="body")
        unknown = sorted(set(body) - _REQUEST_FIELDS)
        if unknown:
            raise BadRequestError(f"unknown field {unknown[0]!r}", field=unknown[0], code="unknown_field")
        if "report" not in body:
            raise BadRequestError("field 'report' is required", field="report")
        template = self.pipeline.load_template(body["report"])
        fmt = choose_format(body.get("format"), template.options.get("format"))
        now = utc_now()
        values = self.pipeline.resolve(template, body.get("params"), now=now)
        requested_by = body.get("requested_by", "api")
        if not isinstance(requested_by, str) or not 0 < len(requested_by) <= 100:
            raise BadRequestError("requested_by must be a string of 1-100 characters", field="requested_by")
        status: dict[str, Any] = {
            "export_id": new_export_id(now),
            "report": template.name,
            "title": template.title,
            "params": to_json_params(values),
            "format": fmt.name,
            "status": "queued",
            "requested_by": requested_by,
            "created_at": iso(now),
        }
        self.storage.put_status(status)
        self.dispatcher.dispatch(status["export_id"])
        logger.info("export queued", extra={"export_id": status["export_id"], "report": template.name})
        return status

    def public_status(self, export_id: str) -> dict[str, Any]:
        status = self.storage.get_status(validate_export_id(export_id))
        view = {name: status.get(name) for name in PUBLIC_FIELDS}
        if status.get("status") == "succeeded" and status.get("s3_key"):
            link = self.links.link_for(str(status["s3_key"]))
            view["download_url"], view["expires_at"] = link.url, iso(link.expires_at)
        return view

    # the worker side ------------------------------------------------------------------------
    def run(self, export_id: str, remaining_millis: RemainingMillis | None = None) -> dict[str, Any]:
        """Run one queued export to its end; safe to call twice for the same export.

        ``remaining_millis`` is the Lambda context's clock; without one (a local thread) only the
        /tmp guard applies.
        """
        try:
            status = self.storage.get_status(validate_export_id(export_id))
        except NotFoundError:
            logger.error("worker got an unknown export", extra={"export_id": export_id})
            raise
        if status.get("status") in FINISHED:
            logger.info("export already finished", extra={"export_id": export_id})
            return status
        status.update(status="running", started_at=iso(utc_now()))
        self.storage.put_status(status)
        try:
            self._produce(status, remaining_millis)
        except ExportServiceError as exc:
            self._fail(status, exc.to_dict())
        except Exception:  # the worker must always leave a final status and tell someone
            logger.exception("export crashed", extra={"export_id": export_id})
            self._fail(status, {"code": "internal_error", "message": "the export failed unexpectedly; see the worker logs"})
        self._notify(status)
        return status

    def _produce(self, status: dict[str, Any], remaining_millis: RemainingMillis | None) -> None:
        template = self.pipeline.load_template(str(status["report"]))
        created_at = dt.datetime.fromisoformat(str(status["created_at"]).replace("Z", "+00:00"))
        values = self.pipeline.resolve(template, status.get("params"), now=created_at)
        fmt = choose_format(status.get("format"), template.options.get("format"))
        result = self.pipeline.export(str(status["export_id"]), template, values, created_at, fmt=fmt, remaining_millis=remaining_millis)
        rate = result.row_count / result.total_seconds if result.total_seconds > 0 else 0.0
        status.update(
            status="succeeded",
            title=template.title,
            row_count=result.row_count,
            size_bytes=result.stored.size_bytes,
            s3_key=result.stored.key,
            etag=result.stored.etag,
            file_name=result.file_name,
            truncated_cells=result.truncated_cells,
            numbers_as_text=result.numbers_as_text,
            format=result.format,
            sheets=list(result.sheet_names),
            sha256=result.stored.sha256,
            query_seconds=round(result.query_seconds, 3),
            duration_seconds=round(result.total_seconds, 3),
            rows_per_second=round(rate, 1),
            finished_at=iso(utc_now()),
            error=None,
        )
        self.storage.put_status(status)
        logger.info("export succeeded", extra={"export_id": status["export_id"], "rows": result.row_count})

    def _fail(self, status: dict[str, Any], error: dict[str, Any]) -> None:
        status.update(status="failed", error=error, finished_at=iso(utc_now()))
        self.storage.put_status(status)
        logger.warning("export failed", extra={"export_id": status["export_id"], "error_code": error.get("code")})

    def _notify(self, status: dict[str, Any]) -> None:
        if status["status"] == "succeeded":
            link = self.links.link_for(str(status["s3_key"]))
            payload = slack.success_message(status, download_url=link.url, expires_at=iso(link.expires_at))
        else:
            payload = slack.failure_message(status)
        try:
            self.notifier.send(payload)
            status.update(notified=True, notify_error=None)
        except ExportServiceError as exc:
            status.update(notified=False, notify_error=exc.message)
            logger.warning("slack notification failed", extra={"export_id": status["export_id"], "error_code": exc.code})
        self.storage.put_status(status)

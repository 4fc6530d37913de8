"""The worker side of exports: run one queued export to its end, keep it alive, tell Slack.

``run`` takes the record from queued to running (a conditional write: one worker per export),
beats a heartbeat into it while the pipeline streams, and ends it succeeded or failed. A finished
export is never run again, so Lambda's retry of an invocation is harmless; a finished export whose
Slack message was never sent (its worker died in between, or a read found it dead) gets that one
message from the next ``run``. When Lambda gives up on an invocation, its on-failure destination
hands the event to ``handle_failed_invocation`` (the SQS handler in app.py), which fails the
export ``worker_lost`` and sends the one message. If a read declared this worker dead while it
was still running, its conditional write loses: the verdict stands, nothing is sent twice.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from chalicelib import metrics, slack
from chalicelib.errors import ExportServiceError, NotFoundError, StorageError
from chalicelib.exports import lifecycle, messages
from chalicelib.exports.ledger import ExportLedger, Handle, RecordChangedError
from chalicelib.exports.lifecycle import ExportRecord, ExportState, Outcome, TransitionError, iso
from chalicelib.exports.service import JobPolicy, validate_export_id
from chalicelib.files.formats import choose_format
from chalicelib.files.guards import RemainingMillis
from chalicelib.files.pipeline import ExportPipeline, ExportResult, ProgressCallback
from chalicelib.links import LinkMaker
from chalicelib.observability import log_context, log_event
from chalicelib.retry import RetryPolicy, run_with_retries
from chalicelib.secrets import SecretStore
from chalicelib.templating.template import ReportTemplate, parse_template

logger = logging.getLogger(__name__)

# The Slack app's delivery hook (chalicelib/exports/slack_commands.py ``SlackApp.deliver``): given a finished
# export's status and its message, deliver it (direct messages to the requester and to whoever
# joined the export); True when that replaces the webhook, False to post to the webhook as well.
MessageHook = Callable[[Mapping[str, Any], Mapping[str, Any]], bool]


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


class LostError(Exception):
    """This worker's record was moved by someone else (declared lost): stop writing to it."""


class TrackedRecord:
    """The worker's view of its record: every write is conditional on the last one, and the
    heartbeat thread and the export thread take turns through one lock."""

    def __init__(self, ledger: ExportLedger, handle: Handle) -> None:
        self._ledger = ledger
        self._handle = handle
        self._lock = threading.Lock()
        self.lost = False

    @property
    def record(self) -> ExportRecord:
        return self._handle.record

    def move(self, change: Callable[[ExportRecord], ExportRecord], transition: str, **log_fields: Any) -> ExportRecord:
        with self._lock:
            if self.lost:
                raise LostError(transition)
            try:
                self._handle = self._ledger.commit(self._handle, change(self._handle.record), transition, **log_fields)
            except RecordChangedError:
                self.lost = True
                raise LostError(transition) from None
            return self._handle.record


class Heartbeat:
    """Proves the worker alive: ``heartbeat_at`` is rewritten every interval while the export runs."""

    def __init__(self, tracked: TrackedRecord, clock: Callable[[], Any], interval_seconds: float) -> None:
        self._tracked = tracked
        self._clock = clock
        self._interval = interval_seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"heartbeat-{tracked.record.export_id}", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _beat(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self._tracked.move(lambda record: lifecycle.beat(record, self._clock()), "beat")
            except LostError:
                logger.warning("heartbeat: the export was declared lost by a reader", extra={"export_id": self._tracked.record.export_id})
                return
            except TransitionError:
                # The export thread finished the record between this wait and this beat (or while
                # __exit__'s join timed out on a slow beat): nothing is left to keep alive.
                return
            except StorageError:
                continue  # a missed beat is harmless: the record goes stale only after several


class ExportWorker:
    def __init__(self, pipeline: ExportPipeline, links: LinkMaker, notifier: SlackNotifier, ledger: ExportLedger, policy: JobPolicy) -> None:
        self.pipeline = pipeline
        self.links = links
        self.notifier = notifier
        self.ledger = ledger
        self.policy = policy
        self.stage = pipeline.settings.stage
        self.message_hook: MessageHook | None = None  # set where the Slack app is configured (runtime.py)

    def run(
        self, export_id: str, remaining_millis: RemainingMillis | None = None, *, progress: ProgressCallback | None = None, notify: bool = True
    ) -> ExportRecord:
        """Run one queued export to its end; safe to call twice for the same export.

        ``remaining_millis`` is the Lambda context's clock; without one (a local thread, the command
        line) only the /tmp guard applies.
        """
        handle = self.ledger.load(validate_export_id(export_id))
        if handle is None:
            logger.error("worker got an unknown export", extra={"export_id": export_id})
            raise NotFoundError(f"export {export_id!r} does not exist", field="export_id")
        record = handle.record
        with log_context(export_id=export_id, report=record.report, requested_by=record.requested_by, deploy_stage=self.stage):
            if record.state.finished:
                log_event("finished_before", "export already finished; nothing to run")
                return self._notify(handle) if notify and lifecycle.awaits_notification(record) else record
            return self._run(handle, remaining_millis, progress, notify)

    def _run(self, handle: Handle, remaining_millis: RemainingMillis | None, progress: ProgressCallback | None, notify: bool) -> ExportRecord:
        started = time.monotonic()
        try:
            tracked = TrackedRecord(self.ledger, self.ledger.commit(handle, lifecycle.start(handle.record, self.ledger.clock()), "running"))
        except RecordChangedError:
            log_event("start_lost", "another worker or a reader moved the export first")
            current = self.ledger.load(handle.record.export_id)
            return current.record if current else handle.record
        try:
            with Heartbeat(tracked, self.ledger.clock, self.policy.heartbeat_seconds):
                self._produce_with_retries(tracked, remaining_millis, progress, started)
        except LostError:
            log_event("lost_while_running", "the export was declared lost while running; its result is discarded", level=logging.WARNING)
            current = self.ledger.load(tracked.record.export_id)
            return current.record if current else tracked.record
        record = tracked.record
        try:
            self.ledger.release(record.export_key, record.export_id)
        except StorageError:
            # Harmless: a claim whose export has finished is taken over by the next request.
            logger.warning("could not release the claim of a finished export", extra={"export_id": record.export_id})
        if not notify:
            return self._record_notification(tracked, delivered=False, skipped="not requested")
        return self._notify_tracked(tracked)

    def _produce_with_retries(
        self, tracked: TrackedRecord, remaining_millis: RemainingMillis | None, progress: ProgressCallback | None, started: float
    ) -> None:
        def attempt(_number: int) -> None:
            tracked.move(lambda record: lifecycle.begin_attempt(record, self.ledger.clock()), "begin_attempt")
            self._produce(tracked, remaining_millis, progress)

        try:
            run_with_retries(attempt, self.policy.retry)
        except LostError:
            raise
        except ExportServiceError as exc:
            self._fail(tracked, {**exc.to_dict(), "attempts": tracked.record.attempts}, time.monotonic() - started)
        except Exception:  # the worker must always leave a final status and tell someone
            logger.exception("export crashed", extra={"export_id": tracked.record.export_id})
            error = {"code": "internal_error", "message": "the export failed unexpectedly; see the worker logs", "attempts": tracked.record.attempts}
            self._fail(tracked, error, time.monotonic() - started)

    def template_of(self, record: ExportRecord) -> ReportTemplate:
        """The template as it was when the export was accepted (its text is part of the identity)."""
        source = self.ledger.kept_template(record.template_sha256) if record.template_sha256 else None
        if source is not None:
            return parse_template(record.report, source)
        return self.pipeline.load_template(record.report)  # a record written before snapshots existed

    def _produce(self, tracked: TrackedRecord, remaining_millis: RemainingMillis | None, progress: ProgressCallback | None) -> None:
        record = tracked.record
        template = self.template_of(record)
        values = self.pipeline.resolve(template, dict(record.params), now=record.created_at)
        fmt = choose_format(record.format, template.options.format)
        result = self.pipeline.export(
            record.export_id, template, values, record.created_at, fmt=fmt, remaining_millis=remaining_millis, progress=progress
        )
        outcome = _outcome(result)
        skipped = "no rows (the report says on_empty: skip)" if result.row_count == 0 and template.options.on_empty == "skip" else None

        def finish(current: ExportRecord) -> ExportRecord:
            done = _with_skip(lifecycle.succeed(current, outcome, self.ledger.clock(), title=template.title), skipped)
            self._remember(done)
            return done

        tracked.move(
            finish,
            "succeeded",
            rows=result.row_count,
            size_bytes=result.stored.size_bytes,
            rows_per_second=outcome.rows_per_second,
            duration_seconds=round(result.total_seconds, 3),
            query_seconds=round(result.query_seconds, 3),
            write_seconds=round(result.write_seconds, 3),
            upload_seconds=round(result.upload_seconds, 3),
        )
        metrics.export_succeeded(
            stage=self.stage,
            report=template.name,
            rows=result.row_count,
            size_bytes=result.stored.size_bytes,
            duration=result.total_seconds,
            query_time=result.query_seconds,
            write_time=result.write_seconds,
        )

    def _remember(self, record: ExportRecord) -> None:
        """Point the cache at this export before its record says succeeded: a request that sees it
        finished and takes over its claim must find it in the cache, or it would run it again."""
        try:
            self.ledger.remember_success(record)
        except StorageError:
            # Only the cache misses this export (an identical request builds a new file); the
            # export itself succeeded and must not be retried for it.
            logger.warning("could not point the cache at a finished export", extra={"export_id": record.export_id})

    def _fail(self, tracked: TrackedRecord, error: dict[str, Any], duration: float) -> None:
        tracked.move(
            lambda record: lifecycle.fail(record, error, self.ledger.clock()),
            "failed",
            level=logging.WARNING,
            error_code=error.get("code"),
            attempts=tracked.record.attempts,
            duration_seconds=round(duration, 3),
        )
        metrics.export_failed(stage=self.stage, report=tracked.record.report, duration=duration)

    # notification -----------------------------------------------------------------------------
    def _notify(self, handle: Handle) -> ExportRecord:
        return self._notify_tracked(TrackedRecord(self.ledger, handle))

    def _notify_tracked(self, tracked: TrackedRecord) -> ExportRecord:
        record = tracked.record
        # A person who asked from Slack is always answered (an empty result included); on_empty:
        # skip keeps only the shared channel quiet.
        if record.notify_skipped and record.notify_slack_user is None:
            return self._record_notification(tracked, delivered=False, skipped=record.notify_skipped)
        started = time.monotonic()
        try:
            # Inside the try: a link that cannot be signed (signing key not filled in) is a
            # notification failure recorded on the export, not a crash after a finished export.
            body, payload = self.message(record)
            # A Slack-requested export goes to the requester's DM (and its joiners'), whether it
            # succeeded, failed, or was found dead by a reader or by the failure queue.
            if self.message_hook is None or not self.message_hook(body, payload):
                self.notifier.send(payload, secret_name=record.slack_channel_secret)
        except ExportServiceError as exc:
            took = round(time.monotonic() - started, 3)
            log_event("notify_failed", "Slack message not delivered", level=logging.WARNING, error_code=exc.code, slack_seconds=took)
            metrics.slack_delivery_failed(stage=self.stage, report=record.report)
            return self._record_notification(tracked, delivered=False, error=exc.message)
        log_event("notified", "Slack message delivered", slack_seconds=round(time.monotonic() - started, 3))
        return self._record_notification(tracked, delivered=True)

    def message(self, record: ExportRecord) -> tuple[dict[str, Any], dict[str, Any]]:
        """A finished export's status as Slack reads it, and its message (with a fresh link)."""
        body = record.to_json()
        if record.state is ExportState.SUCCEEDED and record.outcome is not None:
            link = self.links.link_for(record.outcome.s3_key)
            return body, messages.success_message(body, download_url=link.url, expires_at=iso(link.expires_at))
        return body, messages.failure_message(body)

    def tell_joiners(self, record: ExportRecord) -> None:
        """A record that finished without a worker (served from an identical export, or never
        started) may have been joined from Slack: its joiners get the message its worker would have
        sent. Not its own requester: the API answered them already."""
        if self.message_hook is None:
            return
        try:
            body, payload = self.message(record)
            body.pop("notify_slack_user", None)
            self.message_hook(body, payload)
        except ExportServiceError as exc:
            log_event("notify_failed", "the joiners' Slack messages were not delivered", level=logging.WARNING, error_code=exc.code)

    def _record_notification(self, tracked: TrackedRecord, *, delivered: bool, error: str | None = None, skipped: str | None = None) -> ExportRecord:
        try:
            return tracked.move(
                lambda record: lifecycle.record_notification(record, delivered=delivered, error=error, skipped=skipped), "notification"
            )
        except LostError:
            return tracked.record
        except StorageError:
            # Raising would make Lambda retry the invocation, and the retry would send the message again.
            logger.warning("could not record the Slack delivery", extra={"export_id": tracked.record.export_id})
            return tracked.record

    # Lambda gave up ---------------------------------------------------------------------------
    def handle_failed_invocation(self, destination_record: Mapping[str, Any]) -> ExportRecord | None:
        """One on-failure destination record (Lambda's asynchronous invocation gave up): the export
        it was for is failed ``worker_lost`` (unless it finished) and Slack hears of it once."""
        payload = destination_record.get("requestPayload")
        export_id = str(payload.get("export_id", "")) if isinstance(payload, Mapping) else ""
        context = destination_record.get("requestContext") or {}
        condition = str(context.get("condition") or "an error")
        attempts = int(context.get("approximateInvokeCount") or 0)
        try:
            validate_export_id(export_id)
        except ExportServiceError:
            logger.error("a failed invocation without a valid export id", extra={"condition": condition})
            return None
        handle = self.ledger.load(export_id)
        if handle is None:
            logger.error("a failed invocation for an unknown export", extra={"export_id": export_id})
            return None
        with log_context(export_id=export_id, report=handle.record.report, requested_by=handle.record.requested_by, deploy_stage=self.stage):
            if not handle.record.state.finished:
                message = f"the worker stopped without finishing: Lambda gave up after {attempts} attempts ({_condition_text(condition)}); ask again"
                lost = lifecycle.lose(handle.record, self.ledger.clock(), message)
                try:
                    handle = self.ledger.commit(handle, lost, "worker_lost", condition=condition, invocations=attempts)
                except RecordChangedError:
                    return self.handle_failed_invocation(destination_record)  # moved meanwhile: look again
                self.ledger.release(handle.record.export_key, export_id)
            if lifecycle.awaits_notification(handle.record):
                return self._notify(handle)
            return handle.record


def _condition_text(condition: str) -> str:
    # The conditions Lambda names in a destination record (Lambda developer guide, "Capturing
    # records of asynchronous invocations"): RetriesExhausted, EventAgeExceeded.
    return {"RetriesExhausted": "retries exhausted", "EventAgeExceeded": "the event grew too old"}.get(condition, condition)


def _with_skip(record: ExportRecord, skipped: str | None) -> ExportRecord:
    return record if skipped is None else dataclasses.replace(record, notify_skipped=skipped)


def _outcome(result: ExportResult) -> Outcome:
    rate = result.row_count / result.total_seconds if result.total_seconds > 0 else 0.0
    return Outcome(
        row_count=result.row_count,
        size_bytes=result.stored.size_bytes,
        s3_key=result.stored.key,
        file_name=result.file_name,
        sheets=tuple(_sheet_entry(sheet) for sheet in result.sheets),
        etag=result.stored.etag,
        sha256=result.stored.sha256,
        truncated_cells=result.truncated_cells,
        numbers_as_text=result.numbers_as_text,
        writer=result.writer,
        query_seconds=round(result.query_seconds, 3),
        duration_seconds=round(result.total_seconds, 3),
        rows_per_second=round(rate, 1),
    )


def _sheet_entry(sheet: Any) -> dict[str, Any]:
    """A sheet of the report; past Excel's row limit its rows continue on further sheets."""
    entry: dict[str, Any] = {"name": sheet.name, "row_count": sheet.row_count}
    if len(sheet.sheet_names) > 1:
        entry["continued_on"] = list(sheet.sheet_names[1:])
    return entry

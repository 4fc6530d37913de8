"""Structured logs: one JSON object per line, carrying the export's context, with secrets redacted.

When an export goes wrong at 9 a.m. the logs must tell its story without grep gymnastics: every
line is JSON with ``time``, ``level``, ``logger``, ``message``, the context of the export it is
about (``export_id``, ``report``, ``requested_by``, ``deploy_stage``) and, for lifecycle events,
``stage`` (accepted, claimed, joined, cached, running, query_started, rows_streamed, uploaded,
succeeded, failed, notified, notify_failed) with durations in seconds. CloudWatch Logs Insights
queries those fields directly.

The standard library does this; Powertools for AWS Lambda's Logger was measured and not chosen
(see the README's "Observability"): its per-invocation model adds nothing a worker that logs per
export needs, and it costs a dependency and import time on every cold start.

The context lives in a ``contextvars.ContextVar``, so concurrent exports (worker threads in
``chalice local``) never mix their keys. Every secret value the service reads is registered here
and replaced by ``[redacted]`` in any line that would contain it: defence in depth behind the rule
that no code logs a secret in the first place.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TextIO, TypeVar

T = TypeVar("T")

REDACTED = "[redacted]"
_context: ContextVar[dict[str, Any]] = ContextVar("export_log_context", default={})  # noqa: B039 (never mutated: replaced)
_secrets: set[str] = set()
_secrets_lock = threading.Lock()
# Every form a secret can take in a JSON line, longest first; rebuilt when a secret is added, so
# redacting a line costs one replace per form and nothing more.
_redacted_forms: tuple[str, ...] = ()
# Libraries that log request and response bodies at DEBUG: botocore would print GetSecretValue
# answers, so they stay at WARNING whatever LOG_LEVEL says.
_BODY_LOGGING_LIBRARIES = ("botocore", "boto3", "s3transfer", "urllib3")
_MIN_SECRET_LENGTH = 6  # shorter strings are common words; redacting them would garble every line
_STANDARD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "taskName"}

logger = logging.getLogger("chalicelib.lifecycle")


# secrets ------------------------------------------------------------------------------------
def register_secret(value: str) -> None:
    """Remember a secret value so no log line can carry it (called by secrets.py on every read)."""
    global _redacted_forms
    if len(value) < _MIN_SECRET_LENGTH:
        return
    with _secrets_lock:
        if value in _secrets:
            return
        _secrets.add(value)
        # The line is JSON, where a secret may appear escaped ("\"", "\\", "\u00e9").
        forms = {form for secret in _secrets for form in (secret, json.dumps(secret)[1:-1], json.dumps(secret, ensure_ascii=False)[1:-1])}
        _redacted_forms = tuple(sorted(forms, key=len, reverse=True))


def redact(text: str) -> str:
    for form in _redacted_forms:
        text = text.replace(form, REDACTED)
    return text


# context ------------------------------------------------------------------------------------
@contextmanager
def log_context(**fields: Any) -> Iterator[None]:
    """Add fields (None ones are skipped) to every line logged inside the block, in this thread."""
    token = _context.set({**_context.get(), **{name: value for name, value in fields.items() if value is not None}})
    try:
        yield
    finally:
        _context.reset(token)


def log_event(stage: str, message: str, *, level: int = logging.INFO, **fields: Any) -> None:
    """One lifecycle event: a JSON line with ``stage`` and the fields given (durations in seconds)."""
    logger.log(level, message, extra={"stage": stage, **fields})


def rows_progress(rows: Iterable[T], *, sheet: str, every_seconds: float, clock: Any = time.monotonic) -> Iterator[T]:
    """Pass rows through, logging ``rows_streamed`` (rows so far, rows/s) every ``every_seconds``."""
    started = last = clock()
    count = 0
    for count, row in enumerate(rows, start=1):
        yield row
        if count % 100 == 0:  # reading the clock per row would cost more than it tells
            now = clock()
            if now - last >= every_seconds:
                last = now
                elapsed = now - started
                rate = round(count / elapsed, 1)
                log_event("rows_streamed", "rows streamed", sheet=sheet, rows=count, rows_per_second=rate, elapsed_seconds=round(elapsed, 3))
    elapsed = clock() - started
    rate = round(count / elapsed, 1) if elapsed > 0 else None
    log_event("rows_streamed", "sheet finished", sheet=sheet, rows=count, rows_per_second=rate, elapsed_seconds=round(elapsed, 3), final=True)


# formatting ---------------------------------------------------------------------------------
class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update(_context.get())
        entry.update({name: value for name, value in vars(record).items() if name not in _STANDARD_ATTRIBUTES})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return redact(json.dumps(entry, default=str, ensure_ascii=False))


class _StdoutHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stdout`` is at the time (Lambda reads stdout; tests swap it)."""

    def __init__(self) -> None:
        super().__init__(sys.stdout)

    @property
    def stream(self) -> TextIO:
        return sys.stdout

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        pass


def log_level(name: str | None) -> int:
    """LOG_LEVEL's value as a level; an unknown name means INFO (settings must not fail at import)."""
    level = logging.getLevelName((name or "INFO").strip().upper())
    return level if isinstance(level, int) else logging.INFO


def configure_logging(*loggers: logging.Logger, level: str | None = None) -> None:
    """JSON lines on stdout for the service's loggers (``chalicelib`` and those given); idempotent.

    Cheap and side-effect free apart from logging itself, so app.py calls it at import.
    """
    chosen = log_level(level if level is not None else os.environ.get("LOG_LEVEL"))
    handler = _StdoutHandler()
    handler.setFormatter(JsonFormatter())
    handler.set_name("excel-export-json")
    for target in (logging.getLogger("chalicelib"), *loggers):
        # Replaces Chalice's plain-text handler too; propagate=False keeps Lambda's root handler
        # from printing every line a second time in its own format.
        target.handlers = [existing for existing in target.handlers if not isinstance(existing, logging.StreamHandler)] + [handler]
        target.setLevel(chosen)
        target.propagate = False
    for name in _BODY_LOGGING_LIBRARIES:
        logging.getLogger(name).setLevel(max(chosen, logging.WARNING))

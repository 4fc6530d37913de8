"""JSON log lines with the export's context, secrets redacted, rows/s while streaming, EMF metrics lines."""

from __future__ import annotations

import io
import json
import logging
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from chalicelib import metrics, observability
from chalicelib.observability import JsonFormatter, configure_logging, log_context, log_event, redact, register_secret, rows_progress


class Lines(logging.Handler):
    """Keeps every record as the JSON line the service's formatter makes of it."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(JsonFormatter())
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))

    def parsed(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.lines]


@pytest.fixture
def lines() -> Iterator[Lines]:
    handler = Lines()
    lifecycle = logging.getLogger("chalicelib.lifecycle")
    lifecycle.addHandler(handler)
    saved = lifecycle.level
    lifecycle.setLevel(logging.DEBUG)
    yield handler
    lifecycle.removeHandler(handler)
    lifecycle.setLevel(saved)


def test_a_lifecycle_event_is_one_json_line_with_the_export_context(lines: Lines) -> None:
    with log_context(export_id="20261130-090000-0123456789", report="orders_by_day", requested_by="alice", deploy_stage="prod", ignored=None):
        log_event("uploaded", "file uploaded", size_bytes=1234, upload_seconds=0.25)
    log_event("accepted", "outside any export")
    first, second = lines.parsed()
    assert first["stage"] == "uploaded" and first["message"] == "file uploaded"
    assert first["export_id"] == "20261130-090000-0123456789" and first["report"] == "orders_by_day"
    assert first["requested_by"] == "alice" and first["deploy_stage"] == "prod"
    assert first["size_bytes"] == 1234 and first["upload_seconds"] == 0.25
    assert first["level"] == "INFO" and first["time"].endswith("Z") and "ignored" not in first
    assert "export_id" not in second


def test_contexts_do_not_leak_between_threads(lines: Lines) -> None:
    def worker(export_id: str) -> None:
        with log_context(export_id=export_id):
            log_event("running", "worker started")

    threads = [threading.Thread(target=worker, args=(f"id-{n}",)) for n in range(5)]
    with log_context(export_id="main"):
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert sorted(line["export_id"] for line in lines.parsed()) == [f"id-{n}" for n in range(5)]


def test_registered_secrets_are_redacted_in_every_form() -> None:
    secret = 'pa"ss\\wörd-' + "x" * 8
    register_secret(secret)
    record = logging.LogRecord("chalicelib.x", logging.ERROR, __file__, 1, "connect failed with %s", (secret,), None)
    record.detail = {"password": secret}
    line = JsonFormatter().format(record)
    assert secret not in line and json.dumps(secret)[1:-1] not in line
    assert json.loads(line)["message"] == f"connect failed with {observability.REDACTED}"
    assert redact("short ok") == "short ok"


def test_rows_streamed_is_logged_every_n_seconds_with_rows_per_second(lines: Lines) -> None:
    now = [100.0]

    def clock() -> float:
        now[0] += 0.01  # each reading of the clock is 10 ms later
        return now[0]

    assert sum(1 for _ in rows_progress(iter(range(2500)), sheet="Orders", every_seconds=0.05, clock=clock)) == 2500
    events = [line for line in lines.parsed() if line["stage"] == "rows_streamed"]
    assert [event["rows"] for event in events] == [500, 1000, 1500, 2000, 2500, 2500]
    assert events[0]["rows_per_second"] == pytest.approx(500 / 0.05, rel=0.01)
    assert events[-1]["final"] is True and events[-1]["sheet"] == "Orders"


def test_configure_logging_writes_json_to_stdout_and_keeps_aws_libraries_quiet(capsys: pytest.CaptureFixture[str]) -> None:
    app_logger = logging.getLogger("excel-export-test")
    configure_logging(app_logger, level="DEBUG")
    try:
        logging.getLogger("chalicelib.anything").debug("hello", extra={"export_id": "x"})
        app_logger.info("from the app")
        assert logging.getLogger("botocore").getEffectiveLevel() == logging.WARNING
        assert logging.getLogger("urllib3").getEffectiveLevel() == logging.WARNING
    finally:
        configure_logging(app_logger, level="INFO")
    out = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(line["logger"], line["message"], line["level"]) for line in out] == [
        ("chalicelib.anything", "hello", "DEBUG"),
        ("excel-export-test", "from the app", "INFO"),
    ]
    assert len(logging.getLogger("chalicelib").handlers) == 1  # configuring twice adds no second handler


def test_an_unknown_log_level_means_info() -> None:
    assert observability.log_level("chatty") == logging.INFO
    assert observability.log_level("debug") == logging.DEBUG


def emf_lines(text: str) -> list[dict[str, Any]]:
    return [record for record in map(json.loads, text.splitlines()) if "_aws" in record]


def test_a_finished_export_is_one_emf_line(capsys: pytest.CaptureFixture[str]) -> None:
    metrics.export_succeeded(stage="prod", report="orders_by_day", rows=1200, size_bytes=45678, duration=3.21, query_time=0.4, write_time=2.5)
    metrics.export_failed(stage="prod", report="orders_by_day", duration=1.0)
    metrics.slack_delivery_failed(stage="prod", report="orders_by_day")
    succeeded, failed, slack = emf_lines(capsys.readouterr().out)
    directive = succeeded["_aws"]["CloudWatchMetrics"][0]
    assert directive["Namespace"] == "ExcelExport"
    assert directive["Dimensions"] == [["stage", "report"], ["stage"]]
    units = {metric["Name"]: metric["Unit"] for metric in directive["Metrics"]}
    assert units == {
        "ExportsSucceeded": "Count",
        "ExportsFailed": "Count",
        "Rows": "Count",
        "Bytes": "Bytes",
        "Duration": "Seconds",
        "QueryTime": "Seconds",
        "WriteTime": "Seconds",
    }
    # Every metric named in the directive is a number at the top level, beside its dimensions.
    assert all(isinstance(succeeded[name], (int, float)) for name in units)
    assert (succeeded["stage"], succeeded["report"], succeeded["Rows"], succeeded["Bytes"]) == ("prod", "orders_by_day", 1200, 45678)
    assert isinstance(succeeded["_aws"]["Timestamp"], int)
    assert (failed["ExportsFailed"], failed["ExportsSucceeded"]) == (1, 0)
    assert slack["SlackDeliveryFailures"] == 1


def test_the_namespace_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("METRICS_NAMESPACE", "ExcelExport/dev")
    written = io.StringIO()
    monkeypatch.setattr("sys.stdout", written)
    metrics.slack_delivery_failed(stage="dev", report="r")
    record = json.loads(written.getvalue())
    assert record["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "ExcelExport/dev"

"""What the service writes down: lifecycle log lines and EMF metrics from the real API process, and
no secret in any log (at DEBUG), status object, Slack message or answer; no SQL in a failure."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from chalice.test import Client

import app as export_app
from chalicelib import runtime, settings
from chalicelib.observability import configure_logging
from devstack import stack
from tests.helpers import wait_for_export
from tests.hostile_requests import CASES
from tools.stage_config import local_stage_environment

pytestmark = pytest.mark.stack
ROOT = Path(__file__).resolve().parent.parent.parent
BROKEN_SQL = "SELECT no_such_column, o.amount FROM orders o WHERE o.created_at >= {{ day }}"
WRITING_SQL = "UPDATE orders SET status = 'paid' WHERE created_at >= {{ day }}"


class LogTail:
    """The lines a log file gains from now on."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = path.stat().st_size if path.exists() else 0

    def text(self) -> str:
        with open(self.path, "rb") as log:
            log.seek(self.offset)
            return log.read().decode("utf-8", "replace")

    def json_lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.text().splitlines() if line.startswith("{")]


def secret_values(config: stack.StackConfig) -> list[str]:
    """Everything devstack/stack.py treats as secret: DB passwords, the webhook URL, the AWS secret key."""
    return [
        stack.READONLY_PASSWORD,
        stack.ADMIN_PASSWORD,
        f"{config.slack_url}/hook",
        config.aws_environment()["AWS_SECRET_ACCESS_KEY"],
    ]


def publish(config: stack.StackConfig, name: str, sql: str) -> None:
    source = f"{{#---\ntitle: {name}\nparams:\n  day: {{type: date, default: today-400d}}\n---#}}\n{sql}\n"
    stack.aws_client(config, "s3").put_object(Bucket=stack.BUCKET, Key=f"templates/{name}.sql", Body=source.encode())


def unpublish(config: stack.StackConfig, name: str) -> None:
    stack.aws_client(config, "s3").delete_object(Bucket=stack.BUCKET, Key=f"templates/{name}.sql")


def export_over_http(config: stack.StackConfig, report: str, requested_by: str = "leak-test") -> dict[str, Any]:
    code, accepted = stack.http_json("POST", f"{config.api_url}/exports", {"report": report, "refresh": True, "requested_by": requested_by})
    assert code == 202, accepted
    return wait_for_export(config.api_url, accepted["export_id"])


def slack_messages(config: stack.StackConfig) -> list[Any]:
    _, messages = stack.http_json("GET", f"{config.slack_url}/messages")
    return list(messages)


def stored_objects(config: stack.StackConfig) -> dict[str, str]:
    """Every status, claim, cache pointer, idempotency record and history entry in the bucket."""
    s3 = stack.aws_client(config, "s3")
    stored = {}
    for prefix in ("status/", "state/"):
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=stack.BUCKET, Prefix=prefix):
            for item in page.get("Contents", []):
                stored[item["Key"]] = s3.get_object(Bucket=stack.BUCKET, Key=item["Key"])["Body"].read().decode("utf-8", "replace")
    return stored


def test_an_export_tells_its_story_in_json_lines_and_emf_metrics(local_stack: stack.StackConfig) -> None:
    tail = LogTail(local_stack.api_log)
    status = export_over_http(local_stack, "orders_overview", requested_by="alice")
    assert status["status"] == "succeeded"
    lines = tail.json_lines()
    events = [line for line in lines if line.get("export_id") == status["export_id"] and "stage" in line]
    stages = [event["stage"] for event in events]
    for stage in ("claimed", "accepted", "running", "query_started", "rows_streamed", "uploaded", "succeeded", "notified"):
        assert stage in stages, stages
    assert stages.index("query_started") < stages.index("uploaded") < stages.index("succeeded") < stages.index("notified")
    assert all(event["report"] == "orders_overview" and event["requested_by"] == "alice" for event in events)
    assert all(event["deploy_stage"] == "local" for event in events)
    succeeded = next(event for event in events if event["stage"] == "succeeded")
    assert succeeded["rows"] == status["row_count"] and succeeded["size_bytes"] == status["size_bytes"]
    for duration in ("duration_seconds", "query_seconds", "write_seconds", "upload_seconds"):
        assert succeeded[duration] >= 0
    assert [event["sheet"] for event in events if event["stage"] == "query_started"] == ["Summary by day", "Orders"]
    finished_sheets = [event for event in events if event["stage"] == "rows_streamed" and event.get("final")]
    assert sum(event["rows"] for event in finished_sheets) == status["row_count"]

    metrics = [line for line in lines if "_aws" in line and line.get("report") == "orders_overview" and "ExportsSucceeded" in line]
    assert len(metrics) == 1
    emf = metrics[0]
    declared = {metric["Name"] for metric in emf["_aws"]["CloudWatchMetrics"][0]["Metrics"]}
    assert declared == {"ExportsSucceeded", "ExportsFailed", "Rows", "Bytes", "Duration", "QueryTime", "WriteTime"}
    assert (emf["ExportsSucceeded"], emf["ExportsFailed"], emf["Rows"], emf["Bytes"]) == (1, 0, status["row_count"], status["size_bytes"])
    assert emf["stage"] == "local" and emf["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "ExcelExport"


def test_a_failed_export_and_a_failed_slack_delivery_are_counted(local_stack: stack.StackConfig) -> None:
    publish(local_stack, "broken_metrics", BROKEN_SQL)
    tail = LogTail(local_stack.api_log)
    stack.http_json("POST", f"{local_stack.slack_url}/script", {"repeat": {"status": 500, "body": "oops"}})
    try:
        status = export_over_http(local_stack, "broken_metrics")
    finally:
        stack.http_json("POST", f"{local_stack.slack_url}/script", [])
        unpublish(local_stack, "broken_metrics")
    assert status["status"] == "failed" and status["notified"] is False
    metrics = [line for line in tail.json_lines() if "_aws" in line and line.get("report") == "broken_metrics"]
    assert [(line.get("ExportsFailed"), line.get("SlackDeliveryFailures")) for line in metrics] == [(1, None), (None, 1)]
    failed = [line for line in tail.json_lines() if line.get("stage") == "failed" and line.get("export_id") == status["export_id"]]
    assert failed[0]["error_code"] == "query_failed" and failed[0]["level"] == "WARNING"


@pytest.mark.parametrize(
    ("name", "sql", "code", "says"),
    [
        ("broken_sql", BROKEN_SQL, "query_failed", "Unknown column 'no_such_column'"),
        ("writing_sql", WRITING_SQL, "template_error", "the statement is UPDATE; only SELECT or WITH ... SELECT is accepted"),
    ],
)
def test_a_failed_export_says_why_without_sql_or_credentials(local_stack: stack.StackConfig, name: str, sql: str, code: str, says: str) -> None:
    publish(local_stack, name, sql)  # straight to S3, as if `reports publish` had been bypassed
    try:
        status = export_over_http(local_stack, name)
    finally:
        unpublish(local_stack, name)
    assert status["status"] == "failed" and status["error"]["code"] == code
    assert says in status["error"]["message"]
    [message] = [message for message in slack_messages(local_stack) if status["export_id"] in json.dumps(message)]
    stored = stored_objects(local_stack)[f"status/{status['export_id']}.json"]
    for shown in (json.dumps(status), json.dumps(message), stored):
        for fragment in ("SELECT no_such_column", "UPDATE orders", "SET status", "FROM orders", "o.amount", "created_at >="):
            assert fragment not in shown
        for secret in secret_values(local_stack):
            assert secret not in shown


@pytest.fixture
def debug_client(aws_environment: stack.StackConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Client]:
    monkeypatch.setenv("EXPORT_TMP_DIR", str(tmp_path))
    monkeypatch.setenv("LOG_LEVEL", "DEBUG")
    for name, value in local_stage_environment().items():
        monkeypatch.setenv(name, value)
    settings.get_settings.cache_clear()
    runtime.export_jobs.cache_clear()
    configure_logging(export_app.app.log, level="DEBUG")
    try:
        with Client(export_app.app, stage_name="local", project_dir=str(ROOT)) as client:
            yield client
    finally:
        configure_logging(export_app.app.log, level="INFO")
        settings.get_settings.cache_clear()
        runtime.export_jobs.cache_clear()


def test_no_secret_appears_in_any_log_status_message_or_answer(
    local_stack: stack.StackConfig, debug_client: Client, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)  # everything that reaches the root logger, whatever its source
    service_loggers = [logging.getLogger("chalicelib"), export_app.app.log]  # they do not propagate: listen to them too
    for service_logger in service_loggers:
        service_logger.addHandler(caplog.handler)
    api_log = LogTail(local_stack.api_log)  # the chalice local process runs at LOG_LEVEL=DEBUG (tests/conftest.py)
    answers: list[str] = []
    publish(local_stack, "broken_leak", BROKEN_SQL)
    try:
        # In-process: successes, a SQL failure, a Slack failure, refused requests.
        for report in ("customers", "broken_leak"):
            response = debug_client.http.post(
                "/exports",
                headers={"Content-Type": "application/json"},
                body=json.dumps({"report": report, "params": {"since": "2025-01-01"} if report == "customers" else {}, "refresh": True}),
            )
            answers.append(response.body.decode())
            export_id = json.loads(response.body)["export_id"]
            jobs = runtime.export_jobs()
            answers.append(json.dumps(jobs.run(export_id, notify=True).to_json(), default=str))  # already run by its thread: a no-op that answers
        for case in CASES[:12]:
            answers.append(debug_client.http.request(case.method, case.path, headers=case.headers, body=case.data or b"").body.decode())
        stack.http_json("POST", f"{local_stack.slack_url}/script", {"repeat": {"status": 404, "body": "no_service"}})
        try:
            # Over HTTP to the chalice local process: a success with Slack down and a SQL failure.
            answers.append(json.dumps(export_over_http(local_stack, "sales_by_product")))
            answers.append(json.dumps(export_over_http(local_stack, "broken_leak")))
        finally:
            stack.http_json("POST", f"{local_stack.slack_url}/script", [])
    finally:
        unpublish(local_stack, "broken_leak")
        for service_logger in service_loggers:
            service_logger.removeHandler(caplog.handler)
    captured = capfd.readouterr()
    places = {
        "this process's log records": "\n".join(f"{record.getMessage()} {record.__dict__}" for record in caplog.records),
        "this process's stdout and stderr": captured.out + captured.err,
        "the chalice local process's log": api_log.text(),
        "stored status and state objects": "\n".join(stored_objects(local_stack).values()),
        "Slack messages": json.dumps(slack_messages(local_stack)),
        "API answers": "\n".join(answers),
    }
    assert any(record.levelno == logging.DEBUG and record.name.startswith("chalicelib") for record in caplog.records)
    assert '"level": "DEBUG"' in places["this process's stdout and stderr"] and '"level": "DEBUG"' in places["the chalice local process's log"]
    for where, text in places.items():
        assert text, where
        for secret in secret_values(local_stack):
            assert secret not in text, f"a secret value appears in {where}"

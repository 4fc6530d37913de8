"""The export pipeline end to end: chalice local over HTTP, MariaDB, moto_server and the Slack receiver."""

from __future__ import annotations

import time
from typing import Any

import pytest

from devstack import stack
from tests.helpers import database_rows, download, expected_cell, read_workbook, sheet_rows, slack_messages_for, wait_for_export

pytestmark = pytest.mark.stack


def post_export(config: stack.StackConfig, body: Any) -> tuple[int, Any]:
    return stack.http_json("POST", f"{config.api_url}/exports", body)


def run_export(config: stack.StackConfig, report: str, params: dict[str, Any]) -> dict[str, Any]:
    """A fresh export (bypassing the cache), waited for until it is finished and notified."""
    code, accepted = post_export(config, {"report": report, "params": params, "refresh": True})
    assert code == 202, accepted
    return wait_for_export(config.api_url, accepted["export_id"])


def busiest_day(config: stack.StackConfig) -> str:
    rows = database_rows(config, "SELECT DATE(created_at) AS d FROM orders GROUP BY d ORDER BY COUNT(*) DESC, d LIMIT 1")
    return str(rows[0][0])


def test_reports_are_listed_with_their_parameters(local_stack: stack.StackConfig) -> None:
    code, body = stack.http_json("GET", f"{local_stack.api_url}/reports")
    assert code == 200
    names = [report["name"] for report in body["reports"]]
    assert {"orders_by_day", "orders_range", "sales_by_product", "customers"} <= set(names)
    code, report = stack.http_json("GET", f"{local_stack.api_url}/reports/orders_by_day")
    assert code == 200
    assert report["title"] == "Orders by day"
    assert report["params"][0] == {
        "name": "day",
        "type": "date",
        "required": False,
        "default": "yesterday",
        "description": "The order date (report time zone).",
    }
    assert report["params"][1]["choices"] == ["paid", "refunded", "cancelled"]


def test_export_cells_equal_the_query_rows_and_slack_gets_the_link(local_stack: stack.StackConfig) -> None:
    day = busiest_day(local_stack)
    started = time.monotonic()
    code, accepted = post_export(local_stack, {"report": "orders_by_day", "params": {"day": day}, "refresh": True})
    assert code == 202 and time.monotonic() - started < 1.0
    assert accepted["status"] == "queued" and accepted["status_url"] == f"{local_stack.api_url}/exports/{accepted['export_id']}"
    status = wait_for_export(local_stack.api_url, accepted["export_id"])
    assert status["status"] == "succeeded", status
    expected = database_rows(
        local_stack,
        """SELECT o.id, o.created_at, u.name, p.name, o.quantity, o.amount, o.status, o.shipped_on, o.memo
           FROM orders o JOIN users u ON u.id = o.user_id JOIN products p ON p.id = o.product_id
           WHERE o.created_at >= %s AND o.created_at < %s + INTERVAL 1 DAY ORDER BY o.id""",
        (day, day),
    )
    assert status["row_count"] == len(expected) > 0
    assert status["params"] == {"day": day, "status": None}
    assert status["writer"] == "rustpy-xlsxwriter"  # one sheet, a layout it honours: the fast writer ran
    data = download(status["download_url"])
    assert status["size_bytes"] == len(data)
    rows = sheet_rows(data)
    assert rows[0] == ("Order", "Created", "Customer", "Product", "Quantity", "Amount", "Status", "Shipped on", "Memo")
    assert rows[1:] == [tuple(expected_cell(value) for value in row) for row in expected]
    messages = slack_messages_for(local_stack, accepted["export_id"])
    assert len(messages) == 1
    message = messages[0]
    assert message["text"] == f"Export ready: Orders by day ({len(expected):,} rows)"
    assert f"*Parameters:* day: {day}" in message["blocks"][1]["text"]["text"]
    button_url = message["blocks"][2]["accessory"]["url"]
    assert sheet_rows(download(button_url)) == rows


def test_text_that_looks_like_a_formula_stays_text(local_stack: stack.StackConfig) -> None:
    status = run_export(local_stack, "orders_range", {"date_from": "today-90d", "date_to": "tomorrow"})
    sheet = read_workbook(download(status["download_url"])).worksheets[0]
    memo_column = [cell.value for cell in sheet[1]].index("Memo") + 1
    memos = {sheet.cell(row, memo_column).value: sheet.cell(row, memo_column) for row in range(2, sheet.max_row + 1)}
    for text in ("=SUM(A1:A9)", '=HYPERLINK("http://example.invalid")', "+82-10-1234-5678", "@channel 확인 부탁"):
        assert memos[text].data_type == "s", text
        assert memos[text].hyperlink is None
    assert status["row_count"] == sheet.max_row - 1


@pytest.mark.parametrize("hostile", ["x' OR '1'='1", "'; DROP TABLE orders; --"])
def test_injection_attempts_are_bound_as_data(local_stack: stack.StackConfig, hostile: str) -> None:
    orders_before = database_rows(local_stack, "SELECT COUNT(*) FROM orders")[0][0]
    status = run_export(local_stack, "customers", {"since": "2000-01-01", "name_contains": hostile})
    assert status["status"] == "succeeded", status
    rows = sheet_rows(download(status["download_url"]))[1:]
    # Only customers whose name really contains the text match; nothing else leaks through.
    expected = database_rows(local_stack, "SELECT id FROM users WHERE INSTR(name, %s) > 0 ORDER BY id", (hostile,))
    assert [row[0] for row in rows] == [row[0] for row in expected]
    assert len(expected) > 0
    assert database_rows(local_stack, "SELECT COUNT(*) FROM orders")[0][0] == orders_before


def _error(code: int, body: Any) -> tuple[int, str, str | None]:
    return code, body["error"]["code"], body["error"].get("field")


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"report": "no_such_report"}, (404, "unknown_report", "report")),
        ({"report": "../templates/customers"}, (400, "invalid_report_name", "report")),
        ({"report": "Customers"}, (400, "invalid_report_name", "report")),
        ({"report": "customers"}, (400, "invalid_parameter", "params.since")),
        ({"report": "customers", "params": {"since": "yesterday-ish"}}, (400, "invalid_parameter", "params.since")),
        ({"report": "customers", "params": {"since": "2026-01-01", "colour": "red"}}, (400, "invalid_parameter", "params.colour")),
        ({"report": "customers", "params": {"since": "2026-01-01", "cities": 5}}, (400, "invalid_parameter", "params.cities")),
        ({"report": "orders_by_day", "params": {"status": "lost"}}, (400, "invalid_parameter", "params.status")),
        ({"report": "customers", "params": "since=2026-01-01"}, (400, "invalid_parameter", "params")),
        ({"report": "customers", "priority": "high"}, (400, "unknown_field", "priority")),
        ({"params": {}}, (400, "bad_request", "report")),
        (["customers"], (400, "bad_request", "body")),
    ],
)
def test_bad_requests_name_the_field(local_stack: stack.StackConfig, body: Any, expected: tuple[int, str, str]) -> None:
    code, answer = post_export(local_stack, body)
    assert _error(code, answer) == expected
    assert answer["error"]["message"]


def test_malformed_json_is_a_400(local_stack: stack.StackConfig) -> None:
    import urllib.error
    import urllib.request

    request = urllib.request.Request(
        f"{local_stack.api_url}/exports", data=b'{"report": ', method="POST", headers={"Content-Type": "application/json"}
    )
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=10)
    import json

    assert caught.value.code == 400
    assert json.loads(caught.value.read())["error"]["code"] == "malformed_json"


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/exports/20990101-000000-0000000000", (404, "not_found", "export_id")),
        ("/exports/..%2Fstatus%2Fx", (400, "invalid_export_id", "export_id")),
        ("/exports/not-an-id", (400, "invalid_export_id", "export_id")),
        ("/reports/no_such_report", (404, "unknown_report", "report")),
        ("/reports/Bad.Name", (400, "invalid_report_name", "report")),
    ],
)
def test_unknown_and_malformed_ids(local_stack: stack.StackConfig, path: str, expected: tuple[int, str, str]) -> None:
    code, answer = stack.http_json("GET", f"{local_stack.api_url}{path}")
    assert _error(code, answer) == expected


def test_a_template_published_while_running_is_used_and_sql_errors_fail_cleanly(local_stack: stack.StackConfig) -> None:
    s3 = stack.aws_client(local_stack, "s3")
    broken = (
        "{#---\ntitle: Broken report\nparams:\n  day: {type: date, default: today}\n---#}\n"
        "SELECT no_such_column FROM orders WHERE created_at >= {{ day }}\n"
    )
    s3.put_object(Bucket=stack.BUCKET, Key="templates/broken_report.sql", Body=broken.encode())
    try:
        status = run_export(local_stack, "broken_report", {})
    finally:
        s3.delete_object(Bucket=stack.BUCKET, Key="templates/broken_report.sql")
    assert status["status"] == "failed"
    assert status["error"]["code"] == "query_failed"
    assert "Unknown column 'no_such_column'" in status["error"]["message"]
    assert status["download_url"] is None
    messages = slack_messages_for(local_stack, status["export_id"])
    assert len(messages) == 1
    assert messages[0]["text"].startswith("Export failed: Broken report")
    assert "FROM orders" not in str(messages[0]) and stack.READONLY_PASSWORD not in str(messages[0])


def test_slack_rate_limit_is_honoured_and_a_dead_slack_does_not_fail_the_export(local_stack: stack.StackConfig) -> None:
    stack.http_json("POST", f"{local_stack.slack_url}/script", [{"status": 429, "headers": {"Retry-After": "1"}, "body": "rate_limited"}])
    status = run_export(local_stack, "sales_by_product", {})
    assert status["status"] == "succeeded" and status["notified"] is True
    assert len(slack_messages_for(local_stack, status["export_id"])) == 1

    stack.http_json("POST", f"{local_stack.slack_url}/script", {"repeat": {"status": 404, "body": "no_service"}})
    try:
        status = run_export(local_stack, "sales_by_product", {})
    finally:
        stack.http_json("POST", f"{local_stack.slack_url}/script", [])
    assert status["status"] == "succeeded" and status["notified"] is False
    assert slack_messages_for(local_stack, status["export_id"]) == []

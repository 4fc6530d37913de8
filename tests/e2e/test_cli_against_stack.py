"""The command line against the local test stack: check --db, publish, export (MariaDB, moto_server, Slack receiver)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from chalicelib import aws
from devstack import stack
from tests.helpers import column_hidden, column_width, database_rows, run_cli

pytestmark = pytest.mark.stack
ROOT = Path(__file__).resolve().parent.parent.parent


@pytest.fixture
def env(aws_environment: stack.StackConfig, tmp_path: Path) -> Iterator[dict[str, str]]:
    yield {**aws_environment.aws_environment(), "EXPORT_TMP_DIR": str(tmp_path)}


SUMMARY_LABELS = ["export", "report", "params", "rows", "time", "file", "stored", "link", "saved", "slack"]


def cli(env: dict[str, str], *args: str) -> Any:
    return run_cli(["--stage", "local", *args], env=env)


def slack_messages(config: stack.StackConfig) -> list[dict[str, Any]]:
    _, messages = stack.http_json("GET", f"{config.slack_url}/messages")
    return list(messages)


def field(stdout: str, label: str) -> str:
    return next(line[9:] for line in stdout.splitlines() if line.startswith(f"{label:<8} "))


def quiet_day(config: stack.StackConfig) -> str:
    """A day without orders (before the seed's first day)."""
    return str(database_rows(config, "SELECT DATE(MIN(created_at)) - INTERVAL 3 DAY FROM orders")[0][0])


def seeded_period(config: stack.StackConfig) -> tuple[str, str]:
    first, last = database_rows(config, "SELECT DATE(MIN(created_at)), DATE(MAX(created_at)) + INTERVAL 1 DAY FROM orders")[0]
    return str(first), str(last)


def test_check_with_db_explains_every_shipped_query(env: dict[str, str]) -> None:
    result = cli(env, "reports", "check", "--db")
    assert result.exit_code == 0, result.output
    assert "ok      reports/orders_overview.sql (EXPLAIN ok: 2 queries)" in result.stdout


def test_check_with_db_names_the_line_of_an_unknown_column_and_table(env: dict[str, str], tmp_path: Path) -> None:
    (tmp_path / "typo.sql").write_text(
        "{#---\ntitle: Typo\nparams:\n  day: {type: date, default: yesterday}\n---#}\n"
        "-- sheet: Orders\nSELECT o.id,\n       o.amout AS `Amount`\nFROM orders o WHERE o.created_at >= {{ day }}\n"
        "-- sheet: Others\nSELECT 1 AS x FROM ordrs WHERE 1 = {{ day }}\n"
    )
    result = cli(env, "reports", "check", "--db", "--source", str(tmp_path))
    assert result.exit_code == 1
    assert f"{tmp_path}/typo.sql:8: error: EXPLAIN of sheet 'Orders' failed: MySQL error 1054: Unknown column 'o.amout'" in result.stderr
    assert f"{tmp_path}/typo.sql:11: error: EXPLAIN of sheet 'Others' failed: MySQL error 1146: Table 'demo.ordrs' doesn't exist" in result.stderr


def test_publish_compares_by_content_hash_and_refuses_failing_templates(env: dict[str, str], tmp_path: Path) -> None:
    name = f"cli_{uuid.uuid4().hex[:8]}"
    good = "{#---\ntitle: Published by a test\n---#}\nSELECT 1 AS `One`\n"
    (tmp_path / f"{name}.sql").write_text(good)
    (tmp_path / f"{name}_bad.sql").write_text("{#---\ntitle: Broken\n---#}\nSELECT {{ nope }}\n")

    dry = cli(env, "reports", "publish", "--dry-run", "--source", str(tmp_path))
    assert dry.exit_code == 1
    assert f"new*       {name:<22} sha256 " in dry.stdout
    assert f"refused    {name + '_bad':<22} {tmp_path}/{name}_bad.sql:4: error: variable 'nope' is used but not declared" in dry.stderr
    assert "would upload 1 (1 new, 0 changed), 0 unchanged, 1 refused" in dry.stdout
    assert not template_exists(name)

    published = cli(env, "reports", "publish", name, "--source", str(tmp_path))
    assert published.exit_code == 0 and "uploaded 1 (1 new, 0 changed)" in published.stdout
    assert read_template(name) == good
    assert not template_exists(f"{name}_bad")

    again = cli(env, "reports", "publish", name, "--dry-run", "--source", str(tmp_path))
    assert f"unchanged  {name:<22}" in again.stdout and "would upload 0" in again.stdout

    (tmp_path / f"{name}.sql").write_text(good.replace("`One`", "`Uno`"))
    changed = cli(env, "reports", "publish", name, "--dry-run", "--source", str(tmp_path))
    assert f"changed*   {name:<22} sha256 " in changed.stdout and " -> " in changed.stdout
    assert read_template(name) == good  # a dry run writes nothing

    listed = cli(env, "reports", "list", "--source", "s3")
    assert f"{name:<22} Published by a test  [1 sheet]" in listed.stdout


def test_publish_with_db_refuses_a_template_whose_query_fails_explain(env: dict[str, str], tmp_path: Path) -> None:
    name = f"cli_{uuid.uuid4().hex[:8]}"
    # Passes the offline check (the column is unknown only to the database).
    (tmp_path / f"{name}.sql").write_text("{#---\ntitle: Typo\n---#}\nSELECT o.amout AS `Amount` FROM orders o\n")
    offline = cli(env, "reports", "publish", "--dry-run", "--source", str(tmp_path))
    assert offline.exit_code == 0 and f"new*       {name:<22}" in offline.stdout
    checked = cli(env, "reports", "publish", "--db", "--source", str(tmp_path))
    assert checked.exit_code == 1
    assert f"refused    {name:<22} {tmp_path}/{name}.sql:4: error: EXPLAIN of sheet 'Typo' failed: MySQL error 1054" in checked.stderr
    assert not template_exists(name)


def test_the_local_stack_publishes_through_the_same_checks(aws_environment: stack.StackConfig, tmp_path: Path) -> None:
    # make up / make publish upload with devstack's publish_templates: it must refuse what `reports publish` refuses.
    name = f"stack_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{name}.sql").write_text("{#---\ntitle: Good\n---#}\nSELECT 1 AS `One`\n")
    (tmp_path / f"{name}_bad.sql").write_text("{#---\ntitle: Broken\n---#}\nSELECT {{ nope }}\n")
    refused = stack.publish_templates(aws_environment, folder=tmp_path)
    assert refused == [f"{name}_bad"]
    assert template_exists(name) and not template_exists(f"{name}_bad")


def template_exists(name: str) -> bool:
    try:
        read_template(name)
    except aws.client("s3").exceptions.NoSuchKey:
        return False
    return True


def read_template(name: str) -> str:
    return str(aws.client("s3").get_object(Bucket=stack.BUCKET, Key=f"templates/{name}.sql")["Body"].read().decode())


def test_the_two_sheet_example_report_written_locally(env: dict[str, str], local_stack: stack.StackConfig, tmp_path: Path) -> None:
    date_from, date_to = seeded_period(local_stack)
    out = tmp_path / "overview.xlsx"
    result = cli(
        env, "export", "orders_overview", "-p", f"date_from={date_from}", "-p", f"date_to={date_to}", "-p", "statuses=paid,refunded,cancelled",
        "--no-upload", "--out", str(out),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    orders = database_rows(local_stack, "SELECT COUNT(*) FROM orders")[0][0]
    days = database_rows(local_stack, "SELECT COUNT(DISTINCT DATE(created_at)) FROM orders")[0][0]
    assert field(result.stdout, "rows") == f"{orders + days:,} (Summary by day: {days:,}, Orders: {orders:,})"
    assert field(result.stdout, "upload") == "none (--no-upload)"

    workbook = openpyxl.load_workbook(out)
    assert workbook.sheetnames == ["Summary by day", "Orders"]
    summary, detail = workbook.worksheets
    # One formatting of values for people: a list reads "paid, refunded", not "['paid', 'refunded']".
    assert summary["A1"].value == f"Orders overview (date_from: {date_from}; date_to: {date_to}; statuses: paid, refunded, cancelled)"
    assert detail.print_title_rows.replace("$", "") == "1:2" and detail.page_setup.orientation == "landscape"
    assert [cell.value for cell in summary[2]] == ["Day", "Orders", "Revenue", "Paid share"]
    assert [cell.value for cell in detail[2]] == ["Order", "Created", "Customer id", "Customer", "Product", "Quantity", "Amount", "Status"]
    assert [summary.cell(3, col).number_format for col in range(1, 5)] == ["yyyy-mm-dd", "#,##0", "#,##0", "0.00%"]
    assert [detail.cell(3, col).number_format for col in (2, 7)] == ["yyyy-mm-dd hh:mm", "#,##0.00"]
    assert [round(column_width(summary, letter) or 0) for letter in "BCD"] == [11, 15, 12]  # 10, 14, 11 plus Excel's padding
    assert round(column_width(detail, "B") or 0) == 18
    assert column_hidden(detail, "C") and not column_hidden(detail, "B")
    assert summary.freeze_panes == detail.freeze_panes == "B3"
    assert detail.auto_filter.ref == f"A2:H{orders + 2}"
    assert sum(row[1] for row in summary.iter_rows(min_row=3, values_only=True)) == orders


def test_export_runs_the_worker_path_uploads_and_tells_slack(env: dict[str, str], local_stack: stack.StackConfig, tmp_path: Path) -> None:
    date_from, date_to = seeded_period(local_stack)
    stack.http_json("DELETE", f"{local_stack.slack_url}/messages")
    out = tmp_path / "copy.xlsx"
    result = cli(env, "export", "orders_overview", "-p", f"date_from={date_from}", "-p", f"date_to={date_to}", "--out", str(out))
    assert result.exit_code == 0, result.output
    export_id, state = field(result.stdout, "export").split()
    assert state == "succeeded"
    assert field(result.stdout, "stored").startswith(f"s3://{stack.BUCKET}/exports/")
    assert field(result.stdout, "slack") == "sent"
    # Standard output is the summary the user asked for; the EMF metrics line goes to the log (stderr).
    # (Log lines may reach stdout here only because another test imported app.py, which logs to stdout.)
    assert not any(line.startswith('{"_aws"') for line in result.stdout.splitlines()), result.stdout
    assert [line[:8].rstrip() for line in result.stdout.splitlines() if not line.startswith("{")] == SUMMARY_LABELS
    assert any(json.loads(line).get("ExportsSucceeded") == 1 for line in result.stderr.splitlines() if line.startswith('{"_aws"'))
    workbook = openpyxl.load_workbook(out)
    assert workbook.sheetnames == ["Summary by day", "Orders"]
    assert all(sheet.oddFooter.left.text == export_id for sheet in workbook.worksheets)  # the printed footer names the export
    code, status = stack.http_json("GET", f"{local_stack.api_url}/exports/{export_id}")
    assert code == 200 and status["status"] == "succeeded" and status["requested_by"].startswith("cli/")
    assert [sheet["name"] for sheet in status["sheets"]] == ["Summary by day", "Orders"]
    text = json.dumps(slack_messages(local_stack), ensure_ascii=False)
    assert export_id in text and "Summary by day: " in text


def test_export_failure_and_no_slack(env: dict[str, str], local_stack: stack.StackConfig) -> None:
    stack.http_json("DELETE", f"{local_stack.slack_url}/messages")
    result = cli(env, "export", "orders_by_day", "-p", "day=2026-11-29", "--no-slack")
    assert result.exit_code == 0, result.output
    assert field(result.stdout, "slack") == "not sent (not requested)"
    assert slack_messages(local_stack) == []
    unknown = cli(env, "export", "no_such_report")
    assert unknown.exit_code == 1 and "report 'no_such_report' does not exist" in unknown.stderr


def empty_report(tmp_path: Path, on_empty: str, extra: str = "") -> str:
    (tmp_path / "empty_day.sql").write_text(
        f"{{#---\ntitle: Quiet day\non_empty: {on_empty}\n{extra}params:\n  day: {{type: date}}\n---#}}\n"
        "SELECT o.id AS `Order` FROM orders o WHERE o.created_at >= {{ day }} AND o.created_at < {{ day }} + INTERVAL 1 DAY\n"
    )
    return str(tmp_path)


def test_an_empty_result_is_sent_with_an_explicit_zero_rows(env: dict[str, str], local_stack: stack.StackConfig, tmp_path: Path) -> None:
    stack.http_json("DELETE", f"{local_stack.slack_url}/messages")
    result = cli(env, "export", "empty_day", "-p", f"day={quiet_day(local_stack)}", "--source", empty_report(tmp_path, "send"))
    assert result.exit_code == 0, result.output
    assert field(result.stdout, "rows") == "0" and field(result.stdout, "slack") == "sent"
    (message,) = slack_messages(local_stack)
    assert message["text"] == "Export ready: Quiet day (0 rows)"
    assert "The query returned *0 rows* for these parameters" in json.dumps(message, ensure_ascii=False)


def test_on_empty_skip_sends_nothing(env: dict[str, str], local_stack: stack.StackConfig, tmp_path: Path) -> None:
    stack.http_json("DELETE", f"{local_stack.slack_url}/messages")
    result = cli(env, "export", "empty_day", "-p", f"day={quiet_day(local_stack)}", "--source", empty_report(tmp_path, "skip"))
    assert result.exit_code == 0, result.output
    assert field(result.stdout, "slack") == "not sent (no rows (the report says on_empty: skip))"
    assert slack_messages(local_stack) == []


def test_on_empty_fail_fails_the_export(env: dict[str, str], local_stack: stack.StackConfig, tmp_path: Path) -> None:
    stack.http_json("DELETE", f"{local_stack.slack_url}/messages")
    result = cli(env, "export", "empty_day", "-p", f"day={quiet_day(local_stack)}", "--source", empty_report(tmp_path, "fail"))
    assert result.exit_code == 1
    assert field(result.stdout, "error") == "empty_result: the query returned no rows (the report says on_empty: fail)"
    (message,) = slack_messages(local_stack)
    assert message["text"].startswith("Export failed: Quiet day")


def test_slack_channel_secret_routes_the_message(env: dict[str, str], local_stack: stack.StackConfig, tmp_path: Path) -> None:
    secret = f"excel-export/local/channel-{uuid.uuid4().hex[:8]}"
    source = empty_report(tmp_path, "send", f"slack_channel_secret: {secret}\n")
    day = quiet_day(local_stack)
    missing = cli(env, "export", "empty_day", "-p", f"day={day}", "--source", source)
    assert field(missing.stdout, "slack") == f"not sent (secret '{secret}' could not be read (ResourceNotFoundException))"
    stack.put_secret(local_stack, secret, json.dumps({"url": f"{local_stack.slack_url}/hook"}))
    stack.http_json("DELETE", f"{local_stack.slack_url}/messages")
    routed = cli(env, "export", "empty_day", "-p", f"day={day}", "--source", source)
    assert field(routed.stdout, "slack") == "sent"
    assert len(slack_messages(local_stack)) == 1

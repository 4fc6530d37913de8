"""The real command line (click's runner and a subprocess), without a database or S3: list, check, render, help."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import click
import pytest

from tests.helpers import run_cli
from tools.cli import main

ROOT = Path(__file__).resolve().parent.parent.parent
SHIPPED = sorted(path.stem for path in (ROOT / "reports").glob("*.sql"))


def all_command_paths(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    paths = [prefix]
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            paths += all_command_paths(command, (*prefix, name))
        else:
            paths.append((*prefix, name))
    return paths


@pytest.mark.parametrize("path", all_command_paths(main), ids=lambda path: " ".join(path) or "main")
def test_every_command_has_help(path: tuple[str, ...]) -> None:
    result = run_cli([*path, "--help"])
    assert result.exit_code == 0
    assert result.stdout.startswith("Usage: ")


def test_usage_mistakes_exit_with_status_2() -> None:
    assert run_cli(["reports", "nonsense"]).exit_code == 2
    assert run_cli(["reports", "render"]).exit_code == 2  # NAME missing
    bad_pair = run_cli(["reports", "render", "orders_by_day", "-p", "day"])
    assert bad_pair.exit_code == 2 and "'day' is not NAME=VALUE" in bad_pair.stderr
    bad_value = run_cli(["reports", "render", "orders_by_day", "-p", "day=soon"])
    assert bad_value.exit_code == 2 and "parameter 'day' must be a date" in bad_value.stderr
    unknown = run_cli(["reports", "render", "orders_by_day", "-p", "colour=red"])
    assert unknown.exit_code == 2 and "unknown parameter 'colour'" in unknown.stderr


def test_check_passes_on_every_shipped_template() -> None:
    result = run_cli(["reports", "check"])
    assert result.exit_code == 0, result.output
    for name in SHIPPED:
        assert f"ok      reports/{name}.sql" in result.stdout
    assert f"checked {len(SHIPPED)} templates: {len(SHIPPED)} ok, 0 with errors" in result.stdout


def test_the_module_entry_point_runs_as_a_separate_process() -> None:
    result = subprocess.run([sys.executable, "-m", "tools.cli", "reports", "check", "orders_overview"], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert "ok      reports/orders_overview.sql" in result.stdout


def test_list_shows_titles_sheets_and_parameters() -> None:
    result = run_cli(["reports", "list"])
    assert result.exit_code == 0
    assert "orders_overview        Orders overview  [2 sheets]" in result.stdout
    assert "day: date = yesterday" in result.stdout
    assert "status: string in (paid, refunded, cancelled)" in result.stdout
    assert "since: date (required)" in result.stdout
    listed = json.loads(run_cli(["reports", "list", "--json"]).stdout)["reports"]
    overview = next(report for report in listed if report["name"] == "orders_overview")
    assert overview["sheets"] == ["Summary by day", "Orders"]


def test_render_prints_placeholders_with_the_bound_values_beside_them() -> None:
    result = run_cli(["reports", "render", "orders_range", "-p", "date_from=2026-11-01", "-p", "date_to=2026-11-29", "-p", "statuses=paid,refunded"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "-- sheet 1/1: Orders in a period"
    assert "WHERE o.created_at >= %s AND o.created_at < %s    -- %s = '2026-11-01', '2026-11-29'" in lines
    assert "  AND o.status IN (%s, %s)    -- %s = 'paid', 'refunded'" in lines
    assert "-- bound values, in order: (datetime.date(2026, 11, 1), datetime.date(2026, 11, 29), 'paid', 'refunded')" in lines


def test_list_values_combine_repeated_and_comma_separated_options_by_the_api_rule() -> None:
    result = run_cli(["reports", "render", "orders_range", "-p", "statuses=paid", "-p", "statuses=refunded, cancelled", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["sheets"][0]["args"][-3:] == ["paid", "refunded", "cancelled"]


def test_render_json_gives_every_sheet_exactly_as_the_driver_gets_it() -> None:
    result = run_cli(["reports", "render", "orders_overview", "-p", "date_from=2026-11-01", "-p", "date_to=2026-11-08", "--json"])
    sheets = json.loads(result.stdout)["sheets"]
    assert [sheet["name"] for sheet in sheets] == ["Summary by day", "Orders"]
    assert sheets[0]["args"] == ["2026-11-01", "2026-11-08"]
    assert sheets[0]["sql"].count("%s") == 2 and "2026" not in sheets[0]["sql"]


def test_importing_the_app_does_not_import_the_command_line() -> None:
    code = "import sys, app; print(sorted(m for m in sys.modules if m == 'click' or m.startswith('tools.cli')))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert result.stdout.strip() == "[]"


def test_click_is_not_a_lambda_dependency() -> None:
    packaged = (ROOT / "requirements.txt").read_text().lower()
    assert "click" not in packaged


def test_a_reversed_date_range_is_a_usage_error_naming_both_parameters() -> None:
    result = run_cli(["reports", "render", "orders_range", "-p", "date_from=2026-12-01", "-p", "date_to=2026-11-01"])
    assert result.exit_code == 2
    assert "parameter 'date_from' (2026-12-01) must not be after 'date_to' (2026-11-01)" in result.stderr

"""One template mistake per test: `reports check` names the file and the line, and exits with status 1."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import run_cli

GOOD_HEADER = """{#---
title: Orders
params:
  day: {type: date, default: yesterday}
---#}
"""
GOOD_QUERY = "SELECT o.id AS `Order` FROM orders o WHERE o.created_at >= {{ day }}\n"


def check(tmp_path: Path, source: str) -> tuple[int, str]:
    (tmp_path / "orders.sql").write_text(source)
    result = run_cli(["reports", "check", "--source", str(tmp_path)])
    return result.exit_code, result.stderr


def assert_error(tmp_path: Path, source: str, line: int, message: str) -> None:
    code, errors = check(tmp_path, source)
    assert code == 1
    assert f"{tmp_path}/orders.sql:{line}: error: {message}" in errors


def test_a_correct_template_passes(tmp_path: Path) -> None:
    assert check(tmp_path, GOOD_HEADER + GOOD_QUERY) == (0, "")


def test_bad_yaml(tmp_path: Path) -> None:
    source = "{#---\ntitle: Orders\nparams:\n  day: {type: date, default: yesterday\n---#}\n" + GOOD_QUERY
    assert_error(tmp_path, source, 4, "invalid YAML header: expected ',' or '}', but got '<stream end>'")


def test_undeclared_variable(tmp_path: Path) -> None:
    assert_error(tmp_path, GOOD_HEADER + GOOD_QUERY + "  AND o.status = {{ status }}\n", 7, "variable 'status' is used but not declared in params")


def test_unused_parameter(tmp_path: Path) -> None:
    header = GOOD_HEADER.replace("---#}", "  status: {type: string, required: false}\n---#}")
    assert_error(tmp_path, header + GOOD_QUERY, 5, "parameter 'status' is declared but no query uses it")


def test_unknown_type(tmp_path: Path) -> None:
    header = GOOD_HEADER.replace("{type: date, default: yesterday}", "{type: day}")
    assert_error(tmp_path, header + GOOD_QUERY, 4, "parameter 'day': unknown type 'day'")


def test_default_of_the_wrong_type(tmp_path: Path) -> None:
    header = GOOD_HEADER.replace("default: yesterday", "default: last tuesday")
    assert_error(tmp_path, header + GOOD_QUERY, 4, "parameter 'day': default 'last tuesday' is invalid: parameter 'day' must be a date")


def test_raw_text_filter(tmp_path: Path) -> None:
    query = "SELECT o.id FROM orders o\nWHERE o.created_at >= {{ day | safe }}\n"
    assert_error(tmp_path, GOOD_HEADER + query, 7, "filter 'safe' is not allowed: values are always bound")


def test_jinja_syntax_error(tmp_path: Path) -> None:
    query = GOOD_QUERY + "{% if day %}\n  AND 1 = 1\n"
    assert_error(tmp_path, GOOD_HEADER + query, 7, "Jinja syntax error: Unexpected end of template.")


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("Orders: paid?", "sheet name 'Orders: paid?' contains one of [ ] : * ? / \\ which Excel does not allow"),
        ("Orders paid in the previous calendar month", "sheet name 'Orders paid in the previous calendar month' is 42 characters; Excel allows 31"),
        ("", "sheet name is empty: write '-- sheet: <Sheet name>'"),
        ("History", "sheet name 'History' is reserved by Excel"),
    ],
    ids=["forbidden-characters", "too-long", "empty", "reserved"],
)
def test_bad_sheet_name(tmp_path: Path, name: str, message: str) -> None:
    source = GOOD_HEADER + "-- sheet: Summary\nSELECT COUNT(*) FROM orders WHERE created_at >= {{ day }}\n" + f"-- sheet: {name}\n" + GOOD_QUERY
    assert_error(tmp_path, source, 8, message)


def test_duplicate_sheet_name(tmp_path: Path) -> None:
    source = GOOD_HEADER + "-- sheet: Orders\n" + GOOD_QUERY + "-- sheet: ORDERS\n" + GOOD_QUERY
    assert_error(tmp_path, source, 8, "sheet name 'ORDERS' is used twice (Excel ignores case in sheet names)")


def test_sql_before_the_first_sheet_marker(tmp_path: Path) -> None:
    source = GOOD_HEADER + GOOD_QUERY + "-- sheet: Orders\n" + GOOD_QUERY
    assert_error(tmp_path, source, 6, "SQL before the first '-- sheet:' marker belongs to no sheet")


def test_unknown_header_key(tmp_path: Path) -> None:
    header = GOOD_HEADER.replace("---#}", "autofiter: false\n---#}")
    assert_error(tmp_path, header + GOOD_QUERY, 5, "unknown header key 'autofiter'")


def test_bad_column_format(tmp_path: Path) -> None:
    header = GOOD_HEADER.replace("---#}", "columns:\n  Order: {width: wide}\n---#}")
    assert_error(tmp_path, header + GOOD_QUERY, 6, "column 'Order': width must be a number of characters between 1 and 255")


def test_bad_on_empty(tmp_path: Path) -> None:
    header = GOOD_HEADER.replace("---#}", "on_empty: ignore\n---#}")
    assert_error(tmp_path, header + GOOD_QUERY, 5, "on_empty must be one of send, skip, fail, got 'ignore'")


def test_unknown_time_zone(tmp_path: Path) -> None:
    header = GOOD_HEADER.replace("---#}", "timezone: Seoul\n---#}")
    assert_error(tmp_path, header + GOOD_QUERY, 5, "timezone 'Seoul' is not a known IANA time zone")


def test_a_column_format_for_no_column_is_a_warning(tmp_path: Path) -> None:
    header = GOOD_HEADER.replace("---#}", "columns:\n  Ordr: '#,##0'\n---#}")
    (tmp_path / "orders.sql").write_text(header + GOOD_QUERY)
    result = run_cli(["reports", "check", "--source", str(tmp_path)])
    assert result.exit_code == 0
    assert f"{tmp_path}/orders.sql:6: warning: column format for 'Ordr': no query mentions a column of that name" in result.stdout


def test_a_file_name_the_service_would_refuse(tmp_path: Path) -> None:
    (tmp_path / "Orders Report.sql").write_text(GOOD_HEADER + GOOD_QUERY)
    result = run_cli(["reports", "check", "--source", str(tmp_path)])
    assert result.exit_code == 1
    assert "Orders Report.sql:1: error: the file name must be 1-64 characters of a-z, 0-9, '_' or '-', then .sql" in result.stderr


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ("DELETE FROM orders WHERE created_at < {{ day }}\n", "the statement is DELETE"),
        ("SELECT 1 FROM orders WHERE created_at >= {{ day }}; DROP TABLE orders\n", "the query holds 2 statements"),
        ("SELECT * FROM orders WHERE created_at >= {{ day }} FOR UPDATE\n", "the query takes row locks"),
    ],
)
def test_a_query_that_is_not_one_read_only_select(tmp_path: Path, query: str, reason: str) -> None:
    assert_error(tmp_path, GOOD_HEADER + query, 1, f"sheet 'Orders': {reason}")


def test_a_range_too_large_for_the_sandbox_is_a_problem_not_a_traceback(tmp_path: Path) -> None:
    # Jinja's sandbox raises OverflowError past 100,000 items; it used to escape as a traceback.
    code, errors = check(tmp_path, GOOD_HEADER + "SELECT {{ range(100000000) | length }} AS n, {{ day }} AS d\n")
    assert code == 1 and "Traceback" not in errors
    assert f"{tmp_path}/orders.sql:1: error: rendering failed: " in errors and "Range too big" in errors


def test_a_template_that_is_not_utf8_is_a_template_problem(tmp_path: Path) -> None:
    (tmp_path / "orders.sql").write_bytes((GOOD_HEADER + GOOD_QUERY).replace("Orders", "Caf\u00e9").encode("latin-1"))
    result = run_cli(["reports", "check", "--source", str(tmp_path)])
    assert result.exit_code == 1 and "orders.sql:1: " in result.stderr and "not UTF-8" in result.stderr


def test_every_independent_mistake_of_a_file_is_reported_in_one_run_each_at_its_line(tmp_path: Path) -> None:
    source = "\n".join(
        [
            "{#---",  # 1
            "title: Orders",  # 2
            "autofiter: true",  # 3  unknown header key
            "timezone: Mars/Base",  # 4  unknown zone
            "on_empty: maybe",  # 5  bad option
            "params:",  # 6
            "  day: {type: day}",  # 7  unknown type
            "  limit: {type: integer, default: many}",  # 8  bad default
            "  unused: {type: string, required: false}",  # 9  declared, never used
            "  date_from: {type: date, at_most: date_until}",  # 10 range names an undeclared parameter
            "---#}",  # 11
            "-- sheet: Orders?",  # 12 forbidden character in a sheet name
            "SELECT o.id FROM orders o WHERE o.created_at >= {{ day }} AND {{ date_from }} < NOW()",  # 13
            "  AND o.status = {{ status | safe }}",  # 14 raw filter, and an undeclared variable
            "-- sheet: Totals",  # 15
            "SELECT COUNT(*) FROM orders WHERE amount > {{ minimum }}",  # 16 undeclared variable
            "",
        ]
    )
    (tmp_path / "orders.sql").write_text(source)
    result = run_cli(["reports", "check", "--source", str(tmp_path)])
    assert result.exit_code == 1
    where = f"{tmp_path}/orders.sql"
    expected = [
        f"{where}:3: error: unknown header key 'autofiter'",
        f"{where}:4: error: timezone 'Mars/Base' is not a known IANA time zone",
        f"{where}:5: error: on_empty must be one of send, skip, fail",
        f"{where}:7: error: parameter 'day': unknown type 'day'",
        f"{where}:8: error: parameter 'limit': default 'many' is invalid",
        f"{where}:9: error: parameter 'unused' is declared but no query uses it",
        f"{where}:10: error: parameter 'date_from': at_most names 'date_until', which is not declared",
        f"{where}:12: error: sheet name 'Orders?' contains one of",
        f"{where}:14: error: filter 'safe' is not allowed",
        f"{where}:14: error: variable 'status' is used but not declared in params",
        f"{where}:16: error: variable 'minimum' is used but not declared in params",
    ]
    lines = result.stderr.splitlines()
    assert len(lines) == len(expected), result.stderr
    for line, start in zip(lines, expected, strict=True):
        assert line.startswith(start), (line, start)

"""A rendered query must be one read-only SELECT: checked by parsing, at render time, so at check and run time."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from chalicelib.errors import TemplateError
from chalicelib.templating.sqlcheck import UnsafeQueryError, check_read_only_query, parser_text
from chalicelib.templating.template import parse_template, render_sheets
from tools.template_check import check_template

REPORTS = Path(__file__).resolve().parent.parent.parent / "reports"


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT 1",
        "WITH recent AS (SELECT id FROM orders WHERE created_at >= %s) SELECT COUNT(*) FROM recent",
        "SELECT id FROM a UNION ALL SELECT id FROM b ORDER BY 1",
        "(SELECT 1) UNION (SELECT 2)",
        "SELECT name FROM users WHERE name LIKE CONCAT('%%', %s, '%%') AND city IN (%s, %s)",
        "SELECT 'a /*! not a comment */ b', `odd -- name` FROM t -- a comment\n WHERE x = 1",
        "SELECT 1;",
        "SELECT SLEEP(1) FROM dual",  # it only spends its own time, which the statement time limit bounds
    ],
)
def test_read_only_selects_pass(sql: str) -> None:
    check_read_only_query(sql)


@pytest.mark.parametrize(
    ("sql", "reason"),
    [
        ("INSERT INTO orders (id) VALUES (1)", "the statement is INSERT"),
        ("UPDATE users SET name = 'x'", "the statement is UPDATE"),
        ("DELETE FROM orders", "the statement is DELETE"),
        ("REPLACE INTO orders VALUES (1)", "the statement is REPLACE"),
        ("DROP TABLE orders", "the statement is DROP"),
        ("CREATE TABLE x AS SELECT 1", "the statement is CREATE"),
        ("SET SESSION max_statement_time = 0", "the statement is SET"),
        ("SET STATEMENT max_statement_time = 0 FOR SELECT 1", "the statement is SET"),
        ("CALL purge()", "the statement is CALL"),
        ("SHOW TABLES", "the statement is SHOW"),
        ("COMMIT", "the statement is COMMIT"),
        ("SELECT 1; DELETE FROM orders", "holds 2 statements"),
        ("SELECT 1; SELECT 2", "holds 2 statements"),
        ("WITH d AS (DELETE FROM orders RETURNING id) SELECT * FROM d", "contains a DELETE statement"),
        ("SELECT id INTO @v FROM orders", "SELECT ... INTO"),
        ("SELECT * FROM orders INTO OUTFILE '/tmp/x'", "cannot be parsed"),
        ("SELECT 1--1 INTO OUTFILE '/tmp/x'", "cannot be parsed"),
        ("SELECT * FROM orders FOR UPDATE", "row locks"),
        ("SELECT * FROM orders LOCK IN SHARE MODE", "row locks"),
        ("SELECT /*+ MAX_EXECUTION_TIME(0) */ * FROM orders", "optimizer hint"),
        ("SELECT 1 /*! ; DROP TABLE orders */", "executable comment"),
        ("SELECT 1 /*M!100000 , SLEEP(100) */", "executable comment"),
        ("SELECT LOAD_FILE('/etc/passwd')", "calls LOAD_FILE()"),
        ("SELECT NEXTVAL(order_numbers)", "calls NEXTVAL()"),
        ("SELECT GET_LOCK('x', 60)", "calls GET_LOCK()"),
        ("DO SLEEP(1)", "cannot be parsed"),
        ("", "holds 0 statements"),
    ],
)
def test_anything_else_is_refused_with_a_reason(sql: str, reason: str) -> None:
    with pytest.raises(UnsafeQueryError) as caught:
        check_read_only_query(sql)
    assert reason in str(caught.value)


def test_refusals_never_quote_the_sql() -> None:
    with pytest.raises(UnsafeQueryError) as caught:
        check_read_only_query("SELECT secret_column FROM payroll WHERE x = = 1")
    assert "payroll" not in str(caught.value) and "secret_column" not in str(caught.value)


def test_driver_placeholders_become_parser_placeholders() -> None:
    assert parser_text("SELECT %s, '100%%', %s") == "SELECT ?, '100%', ?"


WRITING_TEMPLATE = """{#---
title: Sneaky
params:
  day: {type: date, default: today}
---#}
-- sheet: First
SELECT 1 FROM orders WHERE created_at >= {{ day }}
-- sheet: Second
UPDATE orders SET status = 'paid' WHERE created_at >= {{ day }}
"""


def test_a_template_that_writes_fails_to_render_naming_the_sheet_and_line() -> None:
    template = parse_template("sneaky", WRITING_TEMPLATE)
    template.render({"day": dt.date(2026, 1, 1)})  # the first sheet alone is fine
    with pytest.raises(TemplateError) as caught:
        render_sheets(template, {"day": dt.date(2026, 1, 1)})
    assert caught.value.line == 8
    assert "sheet 'Second': the statement is UPDATE" in caught.value.message
    assert "orders" not in caught.value.message


def test_reports_check_refuses_it() -> None:
    result = check_template("sneaky", WRITING_TEMPLATE, file="reports/sneaky.sql", today=dt.date(2026, 1, 1))
    assert not result.ok
    assert [str(problem) for problem in result.problems] == [
        "reports/sneaky.sql:8: error: sheet 'Second': the statement is UPDATE; only SELECT or WITH ... SELECT is accepted"
    ]


@pytest.mark.parametrize("path", sorted(REPORTS.glob("*.sql")), ids=lambda path: path.stem)
def test_every_shipped_report_passes(path: Path) -> None:
    result = check_template(path.stem, path.read_text(), file=str(path), today=dt.date(2026, 11, 30))
    assert result.ok, result.problems

"""Every MySQL column type, read from a real MariaDB cursor and written to xlsx (by every writer) and CSV."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from chalicelib.files.formats import CSV, XLSX
from chalicelib.files.pipeline import QueryLimits, stream_query_to_file
from chalicelib.secrets import DatabaseCredentials
from chalicelib.templating.template import RenderedQuery
from devstack import stack
from tests.conformance import differences, read_book

pytestmark = pytest.mark.stack

COLUMNS = """
    id INT PRIMARY KEY, big BIGINT UNSIGNED, money DECIMAL(30,4), ratio FLOAT, precise DOUBLE,
    day DATE, moment DATETIME(6), stamp TIMESTAMP(3) NULL, took TIME(6), yr YEAR, flags BIT(10),
    yes BOOL, name VARCHAR(50), body TEXT, doc JSON, raw BLOB, code VARBINARY(16), kind ENUM('a','b'),
    zero_day DATE, zero_moment DATETIME
"""
ROWS = [
    "(1, 18446744073709551615, 12345678901234567890.1234, 1.5, 0.1, '2026-01-02', '2026-01-02 03:04:05.123456',"
    " '2026-01-02 03:04:05.123', '26:03:00.500000', 2026, b'1010101010', TRUE, '김민준 😀', '=SUM(A1:A2)',"
    " '{\"a\": [1, 2]}', x'00ff', x'0102', 'b', '0000-00-00', '0000-00-00 00:00:00')",
    "(2, 9007199254740991, 1234.5000, -2.25, 1e300, '1999-12-31', '1999-12-31 23:59:59.000000',"
    " NULL, '-838:59:59.000000', 1901, b'0000000001', FALSE, '', NULL, NULL, REPEAT('x', 100), NULL, NULL, NULL, NULL)",
    "(3" + ", NULL" * 19 + ")",
]


@pytest.fixture(scope="module")
def credentials(local_stack: stack.StackConfig) -> Iterator[DatabaseCredentials]:
    with stack.admin_connection(local_stack) as connection, connection.cursor() as cursor:
        cursor.execute("SET SESSION sql_mode = ''")  # zero dates exist in old tables; strict mode refuses new ones
        cursor.execute("DROP TABLE IF EXISTS all_types")
        cursor.execute(f"CREATE TABLE all_types ({COLUMNS}) DEFAULT CHARSET=utf8mb4")
        cursor.execute("INSERT INTO all_types VALUES " + ", ".join(ROWS))
    yield DatabaseCredentials(
        host="127.0.0.1", port=local_stack.db_port, user=stack.READONLY_USER, database=stack.DATABASE, password=stack.READONLY_PASSWORD
    )


def export_all_types(credentials: DatabaseCredentials, tmp_path: Path, extension: str, *, fast: bool = True) -> Path:
    path = tmp_path / f"types-{fast}.{extension}"
    query = RenderedQuery(sql="SELECT * FROM all_types ORDER BY id", args=())
    fmt = XLSX if extension == "xlsx" else CSV
    summary = stream_query_to_file(credentials, query, QueryLimits(timeout_seconds=30, batch_rows=2), (fmt, str(path), "Types"), fast=fast)
    assert summary.row_count == 3
    assert summary.writer == ("csv" if fmt is CSV else "rustpy-xlsxwriter" if fast else "xlsxwriter")
    return path


def note_of_column(sheet: Any, column: int) -> str | None:
    """The "stored as text" note of a column: on its header cell (fast writer) or its first text cell (reference)."""
    notes = [cell.comment.text for cell in sheet.iter_cols(min_col=column, max_col=column).__next__() if cell.comment is not None]
    return notes[0] if notes else None


@pytest.mark.parametrize("fast", [True, False], ids=["rustpy-xlsxwriter", "xlsxwriter"])
def test_every_type_lands_right_in_excel(credentials: DatabaseCredentials, tmp_path: Path, fast: bool) -> None:
    sheet = openpyxl.load_workbook(export_all_types(credentials, tmp_path, "xlsx", fast=fast)).worksheets[0]
    header = [cell.value for cell in sheet[1]]
    first = dict(zip(header, (cell for cell in sheet[2]), strict=True))
    second = dict(zip(header, (cell for cell in sheet[3]), strict=True))
    value = {name: cell.value for name, cell in first.items()}
    assert value["big"] == "18446744073709551615" and "Stored as text" in str(note_of_column(sheet, 2))  # beyond 2^53: text with a note
    assert second["big"].value == 9007199254740991 and second["big"].data_type == "n"
    assert value["money"] == "12345678901234567890.1234"  # 24 digits: text, every digit kept
    assert second["money"].value == 1234.5 and second["money"].number_format == "#,##0.0000"
    assert value["ratio"] == 1.5 and value["precise"] == 0.1 and second["precise"].value == 1e300
    assert value["day"] == dt.datetime(2026, 1, 2) and first["day"].number_format == "yyyy-mm-dd"
    assert value["moment"] == dt.datetime(2026, 1, 2, 3, 4, 5, 123000) and first["moment"].number_format == "yyyy-mm-dd hh:mm:ss.000"
    assert value["stamp"] == dt.datetime(2026, 1, 2, 3, 4, 5, 123000)
    assert value["took"] == dt.timedelta(hours=26, minutes=3, seconds=0, microseconds=500000)
    assert first["took"].number_format == "[h]:mm:ss.000"
    assert second["took"].value == "-838:59:59"  # Excel cannot show a negative time
    assert value["yr"] == 2026 and second["yr"].value == 1901
    assert value["flags"] == 0b1010101010 and second["flags"].value == 1
    assert value["yes"] == 1 and second["yes"].value == 0
    assert value["name"] == "김민준 😀"
    assert value["body"] == "=SUM(A1:A2)" and first["body"].data_type == "s"
    assert value["doc"] == '{"a": [1, 2]}'
    assert value["raw"] == "0x00ff" and second["raw"].value == "<100 bytes>"
    assert value["code"] == "0x0102"
    assert value["kind"] == "b"
    assert value["zero_day"] is None and value["zero_moment"] is None
    assert [cell.value for cell in sheet[4]] == [3] + [None] * 19


def test_every_type_lands_right_in_csv(credentials: DatabaseCredentials, tmp_path: Path) -> None:
    text = export_all_types(credentials, tmp_path, "csv").read_bytes().decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    first: dict[str, Any] = rows[0]
    assert first["big"] == "18446744073709551615"
    assert first["money"] == "12345678901234567890.1234"
    assert first["moment"] == "2026-01-02 03:04:05.123456"
    assert first["took"] == "26:03:00.500000" and rows[1]["took"] == "-838:59:59"
    assert first["flags"] == "682" and first["yr"] == "2026"
    assert first["name"] == "김민준 😀" and first["body"] == "'=SUM(A1:A2)"
    assert first["raw"] == "0x00ff" and rows[1]["raw"] == "<100 bytes>"
    assert first["zero_day"] == "" and first["zero_moment"] == ""
    assert list(rows[2].values()) == ["3"] + [""] * 19


def test_small_and_large_decimals_keep_every_digit_in_plain_notation_in_csv(credentials: DatabaseCredentials, tmp_path: Path) -> None:
    # str(Decimal) of these is "1E-10", "1.0E-7" and "1.2E+21": the CSV has the digits as the server prints them.
    query = RenderedQuery(
        sql="SELECT CAST(1E-10 AS DECIMAL(20,10)) AS tiny, CAST(0.0000001 AS DECIMAL(20,10)) AS small,"
        " CAST(1.2E21 AS DECIMAL(30,0)) AS huge, CAST(-0.5E-7 AS DECIMAL(20,8)) AS negative",
        args=(),
    )
    path = tmp_path / "decimals.csv"
    stream_query_to_file(credentials, query, QueryLimits(timeout_seconds=30, batch_rows=2), (CSV, str(path), "Decimals"))
    rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig"), newline="")))
    assert rows == [{"tiny": "0.0000000001", "small": "0.0000001000", "huge": "1200000000000000000000", "negative": "-0.00000005"}]


def test_every_type_lands_the_same_in_every_writer(credentials: DatabaseCredentials, tmp_path: Path) -> None:
    reference = read_book(export_all_types(credentials, tmp_path, "xlsx", fast=False))
    fast = read_book(export_all_types(credentials, tmp_path, "xlsx", fast=True))
    assert differences(reference, fast) == []
    assert fast[0].noted_columns == {2, 3}  # BIGINT UNSIGNED beyond 2^53, DECIMAL(30,4) beyond 15 digits


def test_real_rows_land_the_same_in_every_writer(credentials: DatabaseCredentials, tmp_path: Path) -> None:
    """The demo's seeded orders (Korean names, formula-like memos, NULLs, money, dates), joined."""
    query = RenderedQuery(
        sql="SELECT o.*, u.name AS customer, u.email, u.city, u.note, p.name AS product, p.category, p.price"
        " FROM orders o JOIN users u ON u.id = o.user_id JOIN products p ON p.id = o.product_id ORDER BY o.id",
        args=(),
    )
    books = []
    for fast in (False, True):
        path = tmp_path / f"orders-{fast}.xlsx"
        summary = stream_query_to_file(credentials, query, QueryLimits(timeout_seconds=30, batch_rows=500), (XLSX, str(path), "Orders"), fast=fast)
        assert summary.row_count == 3000
        books.append(read_book(path))
    assert len(books[1][0].cells) > 3000 * 10
    assert differences(books[0], books[1]) == []


def test_past_the_row_limit_the_file_is_split_whichever_writer_was_chosen(credentials: DatabaseCredentials, tmp_path: Path) -> None:
    query = RenderedQuery(sql="SELECT id, amount, created_at FROM orders ORDER BY id LIMIT 25", args=())
    path = tmp_path / "split.xlsx"
    destination = (XLSX, str(path), "Orders")
    summary = stream_query_to_file(credentials, query, QueryLimits(timeout_seconds=30, batch_rows=7), destination, rows_per_sheet=10)
    assert summary.writer == "xlsxwriter"  # the fast writer filled its one sheet and handed over
    assert summary.sheets[0].sheet_names == ["Orders", "Orders (2)", "Orders (3)"] and summary.row_count == 25
    book = openpyxl.load_workbook(path)
    assert [sheet.max_row for sheet in book.worksheets] == [11, 11, 6]
    ids = [row[0] for sheet in book.worksheets for row in sheet.iter_rows(min_row=2, values_only=True)]
    assert len(set(ids)) == 25 and ids == sorted(ids)

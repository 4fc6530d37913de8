"""CSV and csv.gz: what a user who opens the file (or reads it with a program) gets."""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pymysql.constants import FIELD_TYPE

from chalicelib.csvfile import CsvSheetLimitError, CsvWriter
from chalicelib.database import Column
from chalicelib.workbook import SheetSource

COLUMNS = [
    Column("Id", FIELD_TYPE.LONGLONG, 0),
    Column("Amount", FIELD_TYPE.NEWDECIMAL, 4),
    Column("Created", FIELD_TYPE.DATETIME, 6),
    Column("Day", FIELD_TYPE.DATE, 0),
    Column("Took", FIELD_TYPE.TIME, 0),
    Column("Memo", FIELD_TYPE.BLOB, 0),
    Column("Raw", FIELD_TYPE.BLOB, 0, binary=True),
    Column("Flags", FIELD_TYPE.BIT, 0),
]
ROWS: list[tuple[Any, ...]] = [
    (
        18446744073709551615,
        Decimal("123456789012345678.9012"),
        dt.datetime(2026, 1, 2, 3, 4, 5, 123456),
        dt.date(2026, 1, 2),
        dt.timedelta(hours=26, minutes=3),
        '김민준, "quoted"\nnext line 😀',
        b"\x00\xff",
        b"\x02\xaa",
    ),
    (2, None, "0000-00-00 00:00:00", "0000-00-00", -dt.timedelta(hours=1), "=SUM(A1:A2)", b"x" * 100, None),
    (3, Decimal("-0.5000"), None, None, None, "+82-10", None, None),
    (4, None, None, None, None, "@here", None, None),
    (5, None, None, None, None, "\tTab", None, None),
    (6, None, None, None, None, "-10% 할인", None, None),
    (7, None, None, None, None, "", None, None),
]


def write(path: Path, *, compress: bool) -> bytes:
    with CsvWriter(str(path), compress=compress) as writer:
        summary = writer.add_sheet(SheetSource(name="Orders", columns=COLUMNS, rows=iter(ROWS)))
    assert summary.row_count == len(ROWS)
    raw = path.read_bytes()
    return gzip.decompress(raw) if compress else raw


@pytest.mark.parametrize("compress", [False, True])
def test_csv_is_utf8_with_bom_and_every_value_reads_back(tmp_path: Path, compress: bool) -> None:
    data = write(tmp_path / ("out.csv.gz" if compress else "out.csv"), compress=compress)
    assert data.startswith(b"\xef\xbb\xbf")  # the BOM that makes Excel read UTF-8 (Korean) right
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    assert rows[0] == [column.name for column in COLUMNS]
    assert rows[1] == [
        "18446744073709551615",
        "123456789012345678.9012",
        "2026-01-02 03:04:05.123456",
        "2026-01-02",
        "26:03:00",
        '김민준, "quoted"\nnext line 😀',
        "0x00ff",
        "682",
    ]
    assert rows[2] == ["2", "", "", "", "-01:00:00", "'=SUM(A1:A2)", "<100 bytes>", ""]
    assert rows[3][1] == "-0.5000"  # numbers are numbers, never escaped


def test_formula_looking_text_gets_an_apostrophe_so_spreadsheets_show_text(tmp_path: Path) -> None:
    data = write(tmp_path / "out.csv", compress=False)
    memos = [row[5] for row in csv.reader(io.StringIO(data.decode("utf-8-sig"), newline=""))][2:]
    assert memos == ["'=SUM(A1:A2)", "'+82-10", "'@here", "'\tTab", "'-10% 할인", ""]


def test_lines_end_with_crlf_as_excel_expects(tmp_path: Path) -> None:
    data = write(tmp_path / "out.csv", compress=False)
    assert data.split(b"\r\n")[0] == b"\xef\xbb\xbfId,Amount,Created,Day,Took,Memo,Raw,Flags"


def test_a_csv_holds_one_table(tmp_path: Path) -> None:
    with CsvWriter(str(tmp_path / "one.csv")) as writer:
        writer.add_sheet(SheetSource(name="A", columns=COLUMNS[:1], rows=iter([(1,)])))
        with pytest.raises(CsvSheetLimitError, match="one table"):
            writer.add_sheet(SheetSource(name="B", columns=COLUMNS[:1], rows=iter([(1,)])))


def test_small_and_large_decimals_keep_every_digit_in_plain_notation(tmp_path: Path) -> None:
    # pymysql hands DECIMAL columns over as decimal.Decimal; str() of these is "1E-10" and "1.2E+21".
    values = [Decimal("1E-10"), Decimal("0.0000001000"), Decimal("1.2E+21"), Decimal("-0E-8")]
    with CsvWriter(str(tmp_path / "d.csv")) as writer:
        writer.add_sheet(SheetSource(name="D", columns=[Column("Rate", FIELD_TYPE.NEWDECIMAL, 10)], rows=iter([(v,) for v in values])))
    rows = list(csv.reader(io.StringIO((tmp_path / "d.csv").read_text(encoding="utf-8-sig"), newline="")))
    assert [row[0] for row in rows[1:]] == ["0.0000000001", "0.0000001000", "1200000000000000000000", "-0.00000000"]

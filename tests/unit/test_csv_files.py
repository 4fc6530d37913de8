"""CSV and csv.gz: what a user who opens the file (or reads it with a program) gets."""

from __future__ import annotations

import csv
import gzip
import io
from pathlib import Path
from typing import Any

import pytest
from pymysql.constants import FIELD_TYPE

from chalicelib.database import Column
from chalicelib.files.csvfile import CsvSheetLimitError, CsvWriter
from tests.conformance import text_source

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
# Rows as the export's cursor hands them over (chalicelib.database: decoders off): the server's
# text, bytes for binary columns and BIT.
ROWS: list[tuple[Any, ...]] = [
    (
        "18446744073709551615",
        "123456789012345678.9012",
        "2026-01-02 03:04:05.123456",
        "2026-01-02",
        "26:03:00",
        '김민준, "quoted"\nnext line 😀',
        b"\x00\xff",
        b"\x02\xaa",
    ),
    ("2", None, "0000-00-00 00:00:00", "0000-00-00", "-01:00:00", "=SUM(A1:A2)", b"x" * 100, None),
    ("3", "-0.5000", None, None, None, "+82-10", None, None),
    ("4", None, None, None, None, "@here", None, None),
    ("5", None, None, None, None, "\tTab", None, None),
    ("6", None, None, None, None, "-10% 할인", None, None),
    ("7", None, None, None, None, "", None, None),
]


def write(path: Path, *, compress: bool) -> bytes:
    with CsvWriter(str(path), compress=compress) as writer:
        summary = writer.add_sheet(text_source("Orders", COLUMNS, ROWS))
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
        writer.add_sheet(text_source("A", COLUMNS[:1], [("1",)]))
        with pytest.raises(CsvSheetLimitError, match="one table"):
            writer.add_sheet(text_source("B", COLUMNS[:1], [("1",)]))

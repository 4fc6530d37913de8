"""Column formats, widths, hidden columns, title row, panes and autofilter, read back with openpyxl."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import openpyxl
from pymysql.constants import FIELD_TYPE

from chalicelib.database import Column
from chalicelib.files.workbook import SheetLayout, SheetSource, WorkbookWriter
from chalicelib.templating.options import ColumnFormat
from tests.helpers import column_hidden, column_width

COLUMNS = [
    Column("Order", FIELD_TYPE.LONGLONG, 0),
    Column("Created", FIELD_TYPE.DATETIME, 0),
    Column("Amount", FIELD_TYPE.NEWDECIMAL, 2),
    Column("Share", FIELD_TYPE.NEWDECIMAL, 4),
    Column("Internal", FIELD_TYPE.VAR_STRING, 0),
]
ROWS: list[tuple[object, ...]] = [
    (1, dt.datetime(2026, 11, 29, 8, 30), Decimal("1234.50"), Decimal("0.8125"), "x"),
    (2, dt.datetime(2026, 11, 29, 9, 0), Decimal("10.00"), Decimal("0.5000"), "y"),
]


def write(tmp_path: Path, layout: SheetLayout) -> openpyxl.Workbook:
    path = tmp_path / "layout.xlsx"
    with WorkbookWriter(str(path), tmp_dir=str(tmp_path)) as writer:
        summary = writer.add_sheet(SheetSource(name="Orders", columns=COLUMNS, rows=iter(ROWS), layout=layout))
    assert summary.row_count == len(ROWS)
    return openpyxl.load_workbook(path)


def test_column_formats_override_the_type_defaults(tmp_path: Path) -> None:
    layout = SheetLayout(
        columns={
            "Created": ColumnFormat(number_format="yyyy-mm-dd hh:mm", width=17),
            "Amount": ColumnFormat(number_format="#,##0"),
            "Share": ColumnFormat(number_format="0.00%", width=9),
            "Internal": ColumnFormat(hidden=True),
        }
    )
    sheet = write(tmp_path, layout).worksheets[0]
    assert sheet["B2"].value == dt.datetime(2026, 11, 29, 8, 30) and sheet["B2"].number_format == "yyyy-mm-dd hh:mm"
    assert sheet["C2"].value == 1234.5 and sheet["C2"].number_format == "#,##0"
    assert sheet["D2"].value == 0.8125 and sheet["D2"].number_format == "0.00%"
    assert sheet["A2"].number_format == "General"  # no format declared: the type's default
    assert column_width(sheet, "B") == 17 + 0.7109375  # openpyxl reads back Excel's padding
    assert column_width(sheet, "D") == 9 + 0.7109375
    assert column_hidden(sheet, "E") and not column_hidden(sheet, "D")


def test_title_row_moves_the_header_down_and_the_panes_and_filter_follow(tmp_path: Path) -> None:
    sheet = write(tmp_path, SheetLayout(title="Orders (day: 2026-11-29)")).worksheets[0]
    assert sheet["A1"].value == "Orders (day: 2026-11-29)" and sheet["A1"].font.b
    assert [cell.value for cell in sheet[2]] == [column.name for column in COLUMNS]
    assert sheet["A3"].value == 1 and sheet["A4"].value == 2
    assert sheet.freeze_panes == "A3"
    assert sheet.auto_filter.ref == "A2:E4"


def test_an_explicit_freeze_cell_and_no_autofilter(tmp_path: Path) -> None:
    sheet = write(tmp_path, SheetLayout(freeze_cell="B2", autofilter=False)).worksheets[0]
    assert sheet.freeze_panes == "B2"
    assert sheet.auto_filter.ref is None


def test_freeze_can_be_turned_off(tmp_path: Path) -> None:
    sheet = write(tmp_path, SheetLayout(freeze_header=False)).worksheets[0]
    assert sheet.freeze_panes is None

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import openpyxl
from pymysql.constants import FIELD_TYPE

from chalicelib.database import Column
from chalicelib.files.workbook import EXCEL_MAX_STRING, TRUNCATION_MARKER, write_workbook
from chalicelib.templating.template import excel_sheet_name

COLUMNS = [
    Column("Id", FIELD_TYPE.LONGLONG, 0),
    Column("Amount", FIELD_TYPE.NEWDECIMAL, 2),
    Column("Created", FIELD_TYPE.DATETIME, 0),
    Column("Day", FIELD_TYPE.DATE, 0),
    Column("Memo", FIELD_TYPE.VAR_STRING, 0),
    Column("Ratio", FIELD_TYPE.DOUBLE, 0),
    Column("Duration", FIELD_TYPE.TIME, 0),
    Column("Blob", FIELD_TYPE.BLOB, 0),
]


def write(tmp_path: Path, rows: list[tuple[object, ...]]) -> openpyxl.Workbook:
    path = tmp_path / "out.xlsx"
    summary = write_workbook(str(path), "Orders: by/day?", COLUMNS, iter(rows), tmp_dir=str(tmp_path))
    assert summary.row_count == len(rows)
    return openpyxl.load_workbook(path)


def test_cells_are_typed(tmp_path: Path) -> None:
    rows: list[tuple[object, ...]] = [
        (
            1,
            Decimal("1234.50"),
            dt.datetime(2026, 11, 29, 8, 30, 5),
            dt.date(2026, 11, 29),
            "김민준",
            0.25,
            dt.timedelta(hours=26, minutes=3),
            b"\x00\xff",
        ),
        (2**60, None, None, "0000-00-00", None, None, None, None),
    ]
    sheet = write(tmp_path, rows).worksheets[0]
    assert [cell.value for cell in sheet[1]] == [column.name for column in COLUMNS]
    assert sheet["A2"].value == 1
    assert sheet["B2"].value == 1234.5 and sheet["B2"].number_format == "#,##0.00"
    assert sheet["C2"].value == dt.datetime(2026, 11, 29, 8, 30, 5) and sheet["C2"].number_format == "yyyy-mm-dd hh:mm:ss"
    assert sheet["D2"].value == dt.datetime(2026, 11, 29) and sheet["D2"].number_format == "yyyy-mm-dd"
    assert sheet["E2"].value == "김민준"
    assert sheet["F2"].value == 0.25
    assert sheet["G2"].number_format == "[h]:mm:ss"
    assert sheet["H2"].value == "0x00ff"
    # Beyond 2^53 Excel would round the integer: it is kept as text, every digit intact.
    assert sheet["A3"].value == str(2**60)
    assert [sheet.cell(3, col).value for col in range(2, 9)] == [None] * 7


def test_formula_and_url_text_stays_text(tmp_path: Path) -> None:
    tricky = ["=SUM(A1:A2)", "+82-10", "-1", "@here", "https://example.invalid/x", "\tTab", '=HYPERLINK("x")']
    rows: list[tuple[object, ...]] = [(index, None, None, None, text, None, None, None) for index, text in enumerate(tricky)]
    sheet = write(tmp_path, rows).worksheets[0]
    for row_number, text in enumerate(tricky, start=2):
        cell = sheet.cell(row_number, 5)
        assert cell.value == text
        assert cell.data_type == "s"
        assert cell.hyperlink is None


def test_header_is_bold_frozen_and_filtered(tmp_path: Path) -> None:
    sheet = write(tmp_path, [(1, None, None, None, "x", None, None, None)]).worksheets[0]
    assert sheet.title == "Orders_ by_day_"
    assert all(cell.font.b for cell in sheet[1])
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == "A1:H2"
    assert sheet.column_dimensions["C"].width >= 19


def test_long_text_is_truncated_with_a_marker(tmp_path: Path) -> None:
    path = tmp_path / "long.xlsx"
    summary = write_workbook(str(path), "Long", [Column("Text", FIELD_TYPE.BLOB, 0)], iter([("x" * 40_000,)]), tmp_dir=str(tmp_path))
    assert summary.truncated_cells == 1
    value = openpyxl.load_workbook(path).worksheets[0]["A2"].value
    assert len(value) == EXCEL_MAX_STRING and value.endswith(TRUNCATION_MARKER)


def test_sheet_names_are_valid_for_excel() -> None:
    assert excel_sheet_name("a[b]:c*d?e/f\\g") == "a_b__c_d_e_f_g"
    assert len(excel_sheet_name("x" * 50)) == 31
    assert excel_sheet_name("  ") == "Sheet1"


def test_several_sheets_get_unique_valid_names(tmp_path: Path) -> None:
    from chalicelib.files.workbook import SheetSource, WorkbookWriter

    path = tmp_path / "multi.xlsx"
    column = [Column("Id", FIELD_TYPE.LONG, 0)]
    with WorkbookWriter(str(path), tmp_dir=str(tmp_path)) as writer:
        for name in ("Orders", "orders", "x" * 40, "x" * 40):
            writer.add_sheet(SheetSource(name=name, columns=column, rows=iter([(1,)])))
    names = openpyxl.load_workbook(path).sheetnames
    assert names == ["Orders", "orders (2)", "x" * 31, "x" * 27 + " (2)"]

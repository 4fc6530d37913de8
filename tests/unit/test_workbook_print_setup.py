"""Print setup, header style and the width rule (WORKBOOK_LAYOUT_SPEC), read back with openpyxl as
Excel would see them: page setup, print titles, footer, fill and font colours, column widths."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import openpyxl
from pymysql.constants import FIELD_TYPE

from chalicelib.database import Column
from chalicelib.files.workbook import SheetLayout, SheetSource, WorkbookWriter
from chalicelib.templating.options import ColumnFormat
from tests.helpers import column_width

EXCEL_WIDTH_PADDING = 0.7109375  # what openpyxl reads back on top of a width XlsxWriter was given
EXPORT_ID = "20261130-090000-0123456789"


def columns(count: int) -> list[Column]:
    return [Column(f"Text {index}", FIELD_TYPE.VAR_STRING, 0) for index in range(count)]


def write(tmp_path: Path, cols: list[Column], rows: list[tuple[object, ...]], layout: SheetLayout, export_id: str | None = None) -> openpyxl.Workbook:
    path = tmp_path / "print.xlsx"
    with WorkbookWriter(str(path), tmp_dir=str(tmp_path), export_id=export_id) as writer:
        writer.add_sheet(SheetSource(name="Orders", columns=cols, rows=iter(rows), layout=layout))
    return openpyxl.load_workbook(path)


def test_a_wide_sheet_prints_landscape_one_page_wide_with_the_header_on_every_page(tmp_path: Path) -> None:
    sheet = write(tmp_path, columns(10), [tuple("x" for _ in range(10))] * 3, SheetLayout(), EXPORT_ID).worksheets[0]
    assert sheet.page_setup.orientation == "landscape"
    assert sheet.sheet_properties.pageSetUpPr.fitToPage
    # fitToWidth is left out when 1, its default in the OOXML schema (CT_PageSetup); 0 pages tall: as many as needed
    assert (sheet.page_setup.fitToWidth or 1, sheet.page_setup.fitToHeight) == (1, 0)
    assert sheet.print_title_rows.replace("$", "") == "1:1"
    assert sheet.oddFooter.left.text == EXPORT_ID
    assert sheet.oddFooter.right.text == "Page &P of &N"


def test_a_narrow_sheet_prints_portrait_and_the_title_row_repeats_too(tmp_path: Path) -> None:
    # Seven columns, one hidden: six visible ones still fit a portrait page.
    layout = SheetLayout(title="Orders (day: 2026-11-29)", columns={"Text 6": ColumnFormat(hidden=True)})
    sheet = write(tmp_path, columns(7), [tuple("x" for _ in range(7))], layout, EXPORT_ID).worksheets[0]
    assert sheet.page_setup.orientation == "portrait"
    assert sheet.print_title_rows.replace("$", "") == "1:2"


def test_without_an_export_id_the_footer_still_numbers_the_pages(tmp_path: Path) -> None:
    sheet = write(tmp_path, columns(2), [("a", "b")], SheetLayout()).worksheets[0]
    assert sheet.oddFooter.right.text == "Page &P of &N"
    assert not sheet.oddFooter.left.text


def test_the_header_is_white_bold_on_dark_blue_with_a_thin_bottom_border(tmp_path: Path) -> None:
    sheet = write(tmp_path, columns(2), [("a", "b")], SheetLayout()).worksheets[0]
    header = sheet["A1"]
    assert header.fill.fill_type == "solid"
    assert header.fill.fgColor.rgb == "FF1F4E78"
    assert header.font.b and header.font.color.rgb == "FFFFFFFF"
    assert header.border.bottom.style == "thin"


def test_date_and_number_columns_get_two_characters_of_padding_and_text_does_not(tmp_path: Path) -> None:
    cols = [
        Column("Day", FIELD_TYPE.DATE, 0),
        Column("Created", FIELD_TYPE.DATETIME, 0),
        Column("Amount", FIELD_TYPE.NEWDECIMAL, 2),
        Column("Count", FIELD_TYPE.LONG, 0),
        Column("Took", FIELD_TYPE.TIME, 0),
        Column("Name", FIELD_TYPE.VAR_STRING, 0),
    ]
    row = (dt.date(2026, 11, 29), dt.datetime(2026, 11, 29, 8, 30), Decimal("123456.78"), 1234567, dt.timedelta(hours=3), "Kim Minjun")
    sheet = write(tmp_path, cols, [row], SheetLayout()).worksheets[0]
    widths = {letter: (column_width(sheet, letter) or 0) - EXCEL_WIDTH_PADDING for letter in "ABCDEF"}
    # The old rule gave 12, 20 and max(len(name) + 4, longest value + 2, 8); values get 2 more, text does not.
    assert widths == {"A": 12 + 2, "B": 20 + 2, "C": len("123456.78") + 2 + 2, "D": len("1234567") + 2 + 2, "E": len("3:00:00") + 2 + 2, "F": 12}

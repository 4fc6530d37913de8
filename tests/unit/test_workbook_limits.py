"""Excel's limits: rows per sheet (splitting), characters per cell, digits per number."""

from __future__ import annotations

import datetime as dt
import re
import zipfile
from decimal import Decimal
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from pymysql.constants import FIELD_TYPE

from chalicelib.database import Column
from chalicelib.files.workbook import EXCEL_MAX_STRING, TRUNCATION_MARKER, SheetSource, WorkbookWriter, excel_text, write_workbook

ID_AND_NAME = [Column("Id", FIELD_TYPE.LONGLONG, 0), Column("Name", FIELD_TYPE.VAR_STRING, 0)]


def rows_of(count: int) -> list[tuple[Any, ...]]:
    return [(number, f"name {number}") for number in range(1, count + 1)]


def sheet_xml(path: Path) -> str:
    with zipfile.ZipFile(path) as archive:
        return archive.read("xl/worksheets/sheet1.xml").decode()


def sheets_of(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    workbook = openpyxl.load_workbook(path)
    return {sheet.title: [tuple(row) for row in sheet.iter_rows(values_only=True)] for sheet in workbook.worksheets}


def test_rows_past_the_sheet_limit_continue_on_numbered_sheets_with_the_header(tmp_path: Path) -> None:
    path = tmp_path / "split.xlsx"
    summary = write_workbook(str(path), "Orders", ID_AND_NAME, iter(rows_of(12)), tmp_dir=str(tmp_path), rows_per_sheet=5)
    assert summary.row_count == 12
    assert summary.sheet_names == ["Orders", "Orders (2)", "Orders (3)"]
    sheets = sheets_of(path)
    assert list(sheets) == ["Orders", "Orders (2)", "Orders (3)"]
    for rows in sheets.values():
        assert rows[0] == ("Id", "Name")
    assert [row[0] for rows in sheets.values() for row in rows[1:]] == list(range(1, 13))
    assert [len(rows) - 1 for rows in sheets.values()] == [5, 5, 2]
    workbook = openpyxl.load_workbook(path)
    assert workbook["Orders (3)"].auto_filter.ref == "A1:B3"
    assert workbook["Orders (2)"].freeze_panes == "A2"


def test_an_exact_multiple_of_the_limit_adds_no_empty_sheet(tmp_path: Path) -> None:
    path = tmp_path / "exact.xlsx"
    summary = write_workbook(str(path), "Orders", ID_AND_NAME, iter(rows_of(10)), tmp_dir=str(tmp_path), rows_per_sheet=5)
    assert summary.sheet_names == ["Orders", "Orders (2)"]
    assert [len(rows) for rows in sheets_of(path).values()] == [6, 6]


def test_continuation_names_of_a_long_title_stay_within_31_characters(tmp_path: Path) -> None:
    path = tmp_path / "long-name.xlsx"
    summary = write_workbook(str(path), "Q" * 40, ID_AND_NAME, iter(rows_of(3)), tmp_dir=str(tmp_path), rows_per_sheet=2)
    assert summary.sheet_names == ["Q" * 31, "Q" * 27 + " (2)"]


def test_the_limit_cannot_exceed_what_excel_holds(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="rows_per_sheet"):
        WorkbookWriter(str(tmp_path / "x.xlsx"), tmp_dir=str(tmp_path), rows_per_sheet=1_048_576)


def test_a_sheet_after_a_split_sheet_keeps_its_own_name(tmp_path: Path) -> None:
    path = tmp_path / "two-sources.xlsx"
    with WorkbookWriter(str(path), tmp_dir=str(tmp_path), rows_per_sheet=2) as writer:
        writer.add_sheet(SheetSource(name="Orders", columns=ID_AND_NAME, rows=iter(rows_of(3))))
        writer.add_sheet(SheetSource(name="Refunds", columns=ID_AND_NAME, rows=iter(rows_of(1))))
    assert list(sheets_of(path)) == ["Orders", "Orders (2)", "Refunds"]


def test_long_text_is_cut_at_excels_utf16_limit_with_a_marker_and_counted(tmp_path: Path) -> None:
    emoji = "😀" * 20_000  # 40,000 UTF-16 units: over the limit although only 20,000 characters
    plain = "x" * 32_767  # exactly the limit: kept whole
    path = tmp_path / "long.xlsx"
    columns = [Column("Text", FIELD_TYPE.BLOB, 0)]
    summary = write_workbook(str(path), "Long", columns, iter([(emoji,), (plain,), ("short",)]), tmp_dir=str(tmp_path))
    assert summary.truncated_cells == 1
    sheet = openpyxl.load_workbook(path).worksheets[0]
    cut = sheet["A2"].value
    assert cut.endswith(TRUNCATION_MARKER) and cut.startswith("😀😀")
    assert len(cut.encode("utf-16-le")) // 2 <= EXCEL_MAX_STRING
    assert sheet["A3"].value == plain
    assert sheet["A4"].value == "short"


def test_excel_text_never_splits_a_surrogate_pair() -> None:
    text, truncated = excel_text("a" + "😀" * 20_000)
    assert truncated
    assert "\ud83d" not in text.removesuffix(TRUNCATION_MARKER)[-1:]
    assert text.removesuffix(TRUNCATION_MARKER).endswith("😀")


def test_numbers_beyond_fifteen_digits_are_text_with_a_note_on_the_header(tmp_path: Path) -> None:
    columns = [Column("Big", FIELD_TYPE.LONGLONG, 0), Column("Exact", FIELD_TYPE.NEWDECIMAL, 4), Column("Small", FIELD_TYPE.LONGLONG, 0)]
    rows: list[tuple[Any, ...]] = [
        (2**53 - 1, Decimal("12345678901.2345"), 1),
        (18446744073709551615, Decimal("123456789012345678.9012"), 2),
        (-(2**60), Decimal("-0.0001"), 3),
    ]
    path = tmp_path / "big.xlsx"
    summary = write_workbook(str(path), "Numbers", columns, iter(rows), tmp_dir=str(tmp_path))
    assert summary.numbers_as_text == 3
    sheet = openpyxl.load_workbook(path).worksheets[0]
    assert sheet["A2"].value == 2**53 - 1
    assert sheet["A3"].value == "18446744073709551615"
    assert sheet["A4"].value == str(-(2**60))
    assert sheet["B2"].value == pytest.approx(12345678901.2345) and sheet["B2"].data_type == "n"
    assert sheet["B3"].value == "123456789012345678.9012"
    assert sheet["B4"].value == -0.0001 and sheet["B4"].number_format == "#,##0.0000"
    # The first such cell of each column carries the note; the others stay plain.
    assert "15 significant digits" in sheet["A3"].comment.text
    assert "15 significant digits" in sheet["B3"].comment.text
    assert sheet["A4"].comment is None and sheet["C3"].comment is None


def test_times_keep_fractions_and_negative_times_are_readable_text(tmp_path: Path) -> None:
    columns = [Column("Took", FIELD_TYPE.TIME, 6), Column("At", FIELD_TYPE.DATETIME, 6)]
    rows: list[tuple[Any, ...]] = [
        (dt.timedelta(hours=30, seconds=1, microseconds=500_000), dt.datetime(2026, 1, 2, 3, 4, 5, 123_456)),
        (-dt.timedelta(hours=838, minutes=59, seconds=59), dt.datetime(2026, 1, 2, 3, 4, 5)),
    ]
    path = tmp_path / "times.xlsx"
    write_workbook(str(path), "Times", columns, iter(rows), tmp_dir=str(tmp_path))
    sheet = openpyxl.load_workbook(path).worksheets[0]
    assert sheet["A2"].number_format == "[h]:mm:ss.000"
    assert sheet["A2"].value == dt.timedelta(hours=30, seconds=1, microseconds=500_000)
    assert sheet["A3"].value == "-838:59:59"
    assert sheet["B2"].number_format == "yyyy-mm-dd hh:mm:ss.000"
    # Excel (and openpyxl) show milliseconds; the stored serial number keeps the microseconds.
    assert sheet["B2"].value == dt.datetime(2026, 1, 2, 3, 4, 5, 123_000)
    serial = float(re.search(r'<c r="B2"[^>]*><v>([^<]+)</v>', sheet_xml(path)).group(1))  # type: ignore[union-attr]
    assert abs(dt.datetime(1899, 12, 30) + dt.timedelta(days=serial) - dt.datetime(2026, 1, 2, 3, 4, 5, 123_456)) <= dt.timedelta(microseconds=2)


@pytest.mark.slow
def test_the_real_excel_limit_splits_after_1048575_rows(tmp_path: Path) -> None:
    path = tmp_path / "real-limit.xlsx"
    count = 1_048_575 + 10
    summary = write_workbook(str(path), "Big", [Column("N", FIELD_TYPE.LONG, 0)], ((n,) for n in range(1, count + 1)), tmp_dir=str(tmp_path))
    assert summary.row_count == count and summary.sheet_names == ["Big", "Big (2)"]
    workbook = openpyxl.load_workbook(path, read_only=True)
    assert workbook["Big"].max_row == 1_048_576  # the header and 1,048,575 rows: every row Excel holds
    assert list(workbook["Big (2)"].iter_rows(values_only=True)) == [("N",), *((n,) for n in range(1_048_576, count + 1))]


def test_dates_read_back_equal_across_excels_whole_range(tmp_path: Path) -> None:
    days = [dt.date(1900, 1, 1), dt.date(1900, 2, 28), dt.date(1900, 3, 1), dt.date(1970, 1, 1), dt.date(2024, 2, 29), dt.date(9999, 12, 31)]
    moments = [
        dt.datetime(1900, 2, 28, 23, 59, 59),
        dt.datetime(1900, 3, 1),
        dt.datetime(2026, 11, 30, 23, 59, 59),
        dt.datetime(9999, 12, 31, 23, 59, 59),
    ]
    columns = [Column("Day", FIELD_TYPE.DATE, 0), Column("Moment", FIELD_TYPE.DATETIME, 0)]
    rows = [(day, moments[index] if index < len(moments) else None) for index, day in enumerate(days)]
    path = tmp_path / "dates.xlsx"
    write_workbook(str(path), "Dates", columns, iter(rows), tmp_dir=str(tmp_path))
    sheet = openpyxl.load_workbook(path).worksheets[0]
    assert [sheet.cell(row, 1).value for row in range(2, 2 + len(days))] == [dt.datetime.combine(day, dt.time()) for day in days]
    assert [sheet.cell(row, 2).value for row in range(2, 2 + len(moments))] == moments


def test_dates_before_1900_which_excel_cannot_hold_are_iso_text(tmp_path: Path) -> None:
    columns = [Column("Day", FIELD_TYPE.DATE, 0), Column("Moment", FIELD_TYPE.DATETIME, 0)]
    path = tmp_path / "old.xlsx"
    write_workbook(str(path), "Old", columns, iter([(dt.date(1000, 1, 1), dt.datetime(1899, 12, 31, 12, 0))]), tmp_dir=str(tmp_path))
    sheet = openpyxl.load_workbook(path).worksheets[0]
    assert (sheet["A2"].value, sheet["B2"].value) == ("1000-01-01", "1899-12-31 12:00:00")
